package remoteconfig

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the remote config series; the gateway registers Collectors
// in its registry.
type Metrics struct {
	Version *prometheus.GaugeVec   // rfidgw_config_version{layer}
	Pushes  *prometheus.CounterVec // rfidgw_config_pushes_total{result,reason}
	Result  *prometheus.GaugeVec   // rfidgw_config_result{result}
	Info    *prometheus.GaugeVec   // rfidgw_config_info{hash}
}

var metricResults = []string{ResultApplied, ResultRejected, ResultRolledBack, ResultChecking}

// NewMetrics creates the series (not registered).
func NewMetrics() *Metrics {
	m := &Metrics{
		Version: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rfidgw_config_version",
			Help: "Version of the pushed config in effect (layer: all = the highest, fleet, gateway); 0 = the local file only."}, []string{"layer"}),
		Pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rfidgw_config_pushes_total",
			Help: "Pushed config messages handled, per result (applied, rejected, rolled_back, checking) and reason."}, []string{"result", "reason"}),
		Result: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rfidgw_config_result",
			Help: "1 for the result of the last push (applied, rejected, rolled_back, checking), else 0."}, []string{"result"}),
		Info: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rfidgw_config_info",
			Help: "1, labelled with the hash of the pushed sections in effect (- for none)."}, []string{"hash"}),
	}
	for _, l := range []string{"all", "fleet", "gateway"} {
		m.Version.WithLabelValues(l)
	}
	for _, r := range metricResults {
		m.Result.WithLabelValues(r)
	}
	return m
}

// Collectors returns the series to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Version, m.Pushes, m.Result, m.Info}
}

func (m *Metrics) set(s Status) {
	m.Version.WithLabelValues("all").Set(float64(s.Version))
	m.Version.WithLabelValues("fleet").Set(float64(s.FleetVersion))
	m.Version.WithLabelValues("gateway").Set(float64(s.GatewayVersion))
	for _, r := range metricResults {
		v := 0.0
		if r == s.Result {
			v = 1
		}
		m.Result.WithLabelValues(r).Set(v)
	}
	m.Info.Reset()
	m.Info.WithLabelValues(s.Hash).Set(1)
}
