// Package metrics owns the Prometheus metrics of contract §7 and the
// registry they live in. Every stage increments its own metrics here; the
// HTTP server exposes Registry. Metric names are part of the contract.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry holds every rfidgw metric plus the Go runtime and process metrics.
var Registry = prometheus.NewRegistry()

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	Registry.MustRegister(c)
	return c
}

func gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	Registry.MustRegister(g)
	return g
}

func counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	Registry.MustRegister(c)
	return c
}

func gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	Registry.MustRegister(g)
	return g
}

// Reader metrics.
var (
	ReadsTotal        = counterVec("rfidgw_reads_total", "Tag reads received, per reader.", "reader")
	ReaderConnected   = gaugeVec("rfidgw_reader_connected", "1 while the reader is connected, else 0.", "reader")
	ReaderFrameErrors = counterVec("rfidgw_reader_frame_errors_total", "Frames or payloads from the reader that could not be decoded (bad checksum, bad JSON, unknown parameter).", "reader")
	ReaderReconnects  = counterVec("rfidgw_reader_reconnects_total", "Connection attempts after a reader was lost.", "reader")
	// AntennaConnected is 1 while the reader reports the antenna connected,
	// 0 while it reports it disconnected (for readers that report it).
	AntennaConnected = gaugeVec("rfidgw_antenna_connected", "1 while the reader reports the antenna connected, 0 while disconnected (LLRP AntennaEvent / AntennaProperties, Zebra heartbeat).", "reader", "antenna")
	// ReaderConfigReapplied counts reconnects after which the reader no
	// longer had the gateway's ROSpec (rebooted to defaults, or reset by
	// another client), so the configuration was sent again.
	ReaderConfigReapplied = counterVec("rfidgw_reader_config_reapplied_total", "Reconnects after which the reader had lost the gateway's configuration (ROSpec) and it was sent again.", "reader")
	ReadsIgnoredTotal     = counterVec("rfidgw_reads_ignored_total", "Reads the edge engine ignored, per reader and reason (no_zone, weak).", "reader", "reason")
)

// Edge and event metrics.
var (
	EventsTotal = counterVec("rfidgw_events_total", "Events emitted by the edge engine (and gap events by the buffer), per type.", "type")
	TagsTracked = gauge("rfidgw_edge_tags_tracked", "Tags the edge engine currently tracks.")
)

// Buffer metrics.
var (
	BufferEvents        = gauge("rfidgw_buffer_events", "Events committed to the buffer and not yet acknowledged by Kafka.")
	BufferBytes         = gauge("rfidgw_buffer_bytes", "Payload bytes of the events in the buffer.")
	BufferFileBytes     = gauge("rfidgw_buffer_file_bytes", "Size of the bbolt file.")
	BufferCommitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "rfidgw_buffer_commit_seconds", Help: "Time of one group commit (bbolt transaction with fsync).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
	EventsDropped      = counter("rfidgw_events_dropped_total", "Events the buffer had to drop because it was full; each drop is also a gap event.")
	BufferWriteErrors  = counter("rfidgw_buffer_write_errors_total", "Buffer commits that failed (disk full, fsync error).")
	BufferCorruptFiles = counter("rfidgw_buffer_corrupt_files_total", "Buffer files that could not be opened and were moved aside.")
	BufferCompactions  = counter("rfidgw_buffer_compactions_total", "Times the buffer file was compacted to give space back.")
)

// Uplink metrics.
var (
	UplinkDelivered  = counter("rfidgw_uplink_delivered_total", "Events Kafka acknowledged.")
	UplinkErrors     = counterVec("rfidgw_uplink_errors_total", "Delivery errors, per kind (delivery, fatal, produce).", "kind")
	UplinkLagSeconds = gauge("rfidgw_uplink_lag_seconds", "Age of the oldest event not yet acknowledged by Kafka (0 when none).")
	UplinkConnected  = gauge("rfidgw_uplink_connected", "1 while the last delivery to Kafka succeeded, else 0.")
	UplinkInFlight   = gauge("rfidgw_uplink_in_flight", "Events handed to the Kafka producer and not yet reported.")
)

func init() {
	Registry.MustRegister(BufferCommitSeconds)
	Registry.MustRegister(collectors.NewGoCollector())
	Registry.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}
