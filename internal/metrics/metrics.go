// Package metrics owns rfidgw's Prometheus metrics: their names, help texts
// and labels (the ones operators watch are explained in docs/install.md) and
// the registry they live in. There is no package-level registry: New creates
// one Metrics with its own; `rfidgw run` creates it and the daemon
// (internal/gateway) hands it to every stage it wires (reader.Env through
// Readers, edge.Engine.SetStatsSink through Edge, buffer.Options,
// uplink.Config) and serves its Registry on /metrics. A stage given none
// counts into nothing or a private one (tests, `rfidgw check`).
// Metric names and labels are part of the project's interface: dashboards
// and alerts use them.
//
// The edge engine and the reader packages do not import this package (nor
// Prometheus): they count through edge.StatsSink and reader.Metrics, which
// Edge and Readers implement.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is every rfidgw metric plus the registry they are registered in
// (with the Go runtime and process collectors).
type Metrics struct {
	Registry *prometheus.Registry

	// Reader metrics.
	ReadsTotal        *prometheus.CounterVec
	ReaderConnected   *prometheus.GaugeVec
	ReaderFrameErrors *prometheus.CounterVec
	ReaderReconnects  *prometheus.CounterVec
	ReadsIgnoredTotal *prometheus.CounterVec
	// AntennaConnected is 1 while the reader reports the antenna
	// connected, 0 while disconnected (readers that report it).
	AntennaConnected *prometheus.GaugeVec
	// AntennaReads counts tag reads per reader antenna (the gateway counts
	// them where reads come in; at most maxAntennaSeries label pairs).
	AntennaReads *prometheus.CounterVec
	// ReaderConfigReapplied counts reconnects after which the reader no
	// longer had the gateway's configuration (rebooted to defaults).
	ReaderConfigReapplied *prometheus.CounterVec
	// ReaderClockOffset is the reader's clock minus the gateway's, seconds.
	ReaderClockOffset *prometheus.GaugeVec

	// Edge and event metrics.
	EventsTotal *prometheus.CounterVec
	TagsTracked prometheus.Gauge
	ClockSteps  prometheus.Counter

	// Buffer metrics.
	BufferEvents        prometheus.Gauge
	BufferBytes         prometheus.Gauge
	BufferFileBytes     prometheus.Gauge
	BufferCommitSeconds prometheus.Histogram
	EventsDropped       prometheus.Counter
	BufferWriteErrors   prometheus.Counter
	BufferCorruptFiles  prometheus.Counter
	BufferCompactions   prometheus.Counter
	// BufferEpochsStarted counts new stream epochs (buffer/epoch.go).
	BufferEpochsStarted prometheus.Counter

	// Uplink metrics.
	UplinkDelivered  prometheus.Counter
	UplinkErrors     *prometheus.CounterVec
	UplinkLagSeconds prometheus.Gauge
	UplinkConnected  prometheus.Gauge
	UplinkInFlight   prometheus.Gauge
}

// New returns a Metrics with a fresh registry holding every metric, the Go
// runtime and the process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		r.MustRegister(c)
		return c
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		r.MustRegister(g)
		return g
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		r.MustRegister(c)
		return c
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		r.MustRegister(g)
		return g
	}
	m := &Metrics{
		Registry: r,

		ReadsTotal:            counterVec("rfidgw_reads_total", "Tag reads received, per reader.", "reader"),
		ReaderConnected:       gaugeVec("rfidgw_reader_connected", "1 while the reader is connected, else 0.", "reader"),
		ReaderFrameErrors:     counterVec("rfidgw_reader_frame_errors_total", "Frames or payloads from the reader that could not be decoded (bad checksum, bad JSON, unknown parameter).", "reader"),
		ReaderReconnects:      counterVec("rfidgw_reader_reconnects_total", "Connection attempts after a reader was lost.", "reader"),
		AntennaReads:          counterVec("rfidgw_antenna_reads_total", "Tag reads received, per reader antenna.", "reader", "antenna"),
		AntennaConnected:      gaugeVec("rfidgw_antenna_connected", "1 while the reader reports the antenna connected, 0 while disconnected (LLRP AntennaEvent / AntennaProperties).", "reader", "antenna"),
		ReaderConfigReapplied: counterVec("rfidgw_reader_config_reapplied_total", "Reconnects after which the reader had lost the gateway's configuration (ROSpec) and it was sent again.", "reader"),
		ReaderClockOffset:     gaugeVec("rfidgw_reader_clock_offset_seconds", "Reader clock minus gateway clock, estimated from the reader's timestamps (corrected when over 2 s).", "reader"),
		ReadsIgnoredTotal:     counterVec("rfidgw_reads_ignored_total", "Reads ignored before or by the edge engine, per reader and reason (filter: a foreign tag dropped by filter: or a zone's accept/ignore; no_zone; weak; no_epc; bad_time; late: a read held by the reader and sent over 2 s late that could not be used; epc_too_long: over 256 hex digits; too_many_readers: reader ids beyond what one MQTT entry learns).", "reader", "reason"),

		EventsTotal: counterVec("rfidgw_events_total", "Events emitted by the edge engine (and gap events by the buffer), per type.", "type"),
		TagsTracked: gauge("rfidgw_edge_tags_tracked", "Tags the edge engine currently tracks."),
		ClockSteps:  counter("rfidgw_clock_steps_total", "Steps of the wall clock of 1 s or more seen by the gateway (the engine keeps the monotonic clock)."),

		BufferEvents:    gauge("rfidgw_buffer_events", "Events committed to the buffer and not yet acknowledged by Kafka."),
		BufferBytes:     gauge("rfidgw_buffer_bytes", "Payload bytes of the events in the buffer."),
		BufferFileBytes: gauge("rfidgw_buffer_file_bytes", "Size of the bbolt file."),
		BufferCommitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rfidgw_buffer_commit_seconds", Help: "Time of one group commit (bbolt transaction with fsync).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		EventsDropped:       counter("rfidgw_events_dropped_total", "Events the buffer had to drop because it was full; each drop is also a gap event."),
		BufferWriteErrors:   counter("rfidgw_buffer_write_errors_total", "Buffer commits that failed (disk full, fsync error)."),
		BufferCorruptFiles:  counter("rfidgw_buffer_corrupt_files_total", "Buffer files that could not be opened and were moved aside."),
		BufferCompactions:   counter("rfidgw_buffer_compactions_total", "Times the buffer file was compacted to give space back."),
		BufferEpochsStarted: counter("rfidgw_buffer_epochs_started_total", "New stream epochs started (new data dir, or a replaced or restored buffer.db)."),

		UplinkDelivered:  counter("rfidgw_uplink_delivered_total", "Events Kafka acknowledged."),
		UplinkErrors:     counterVec("rfidgw_uplink_errors_total", "Delivery errors, per kind (delivery, fatal, produce).", "kind"),
		UplinkLagSeconds: gauge("rfidgw_uplink_lag_seconds", "Age of the oldest event not yet acknowledged by Kafka (0 when none)."),
		UplinkConnected:  gauge("rfidgw_uplink_connected", "1 while the last delivery to Kafka succeeded, else 0."),
		UplinkInFlight:   gauge("rfidgw_uplink_in_flight", "Events handed to the Kafka producer and not yet reported."),
	}
	r.MustRegister(m.BufferCommitSeconds)
	r.MustRegister(collectors.NewGoCollector())
	r.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
