package gateway

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// ownMetrics are the series that describe this gateway rather than a stage:
// what build runs, whether /readyz would say ready, and the buffer's limit
// (so an alert can compare rfidgw_buffer_bytes with it). They live in a
// registry of the gateway's own, gathered next to the stages' metrics.
func (g *Gateway) ownMetrics() *prometheus.Registry {
	r := prometheus.NewRegistry()
	bi := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rfidgw_build_info",
		Help: "Always 1; the labels name the running build (the same version string as `rfidgw version` and the .deb).",
	}, []string{"version", "commit", "goversion", "gateway"})
	bi.WithLabelValues(g.version, g.buildCommit, runtime.Version(), g.cfg.Gateway.ID).Set(1)
	r.MustRegister(bi)
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rfidgw_ready",
		Help: "1 while /readyz answers ready (buffer writable, pipeline moving), else 0.",
	}, func() float64 {
		if g.Ready() == nil {
			return 1
		}
		return 0
	}))
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rfidgw_buffer_max_bytes",
		Help: "buffer.max_bytes: the payload bytes the buffer holds before on_full applies.",
	}, func() float64 {
		g.mu.Lock()
		defer g.mu.Unlock()
		return float64(g.cfg.Buffer.MaxBytes)
	}))
	return r
}
