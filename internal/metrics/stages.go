package metrics

import (
	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/reader"
)

// Readers is the reader.Metrics of the sources: rfidgw_reads_total,
// rfidgw_reader_frame_errors_total, rfidgw_reader_reconnects_total and
// rfidgw_reader_connected, labelled by reader id.
func (m *Metrics) Readers() reader.Metrics { return readerMetrics{m} }

type readerMetrics struct{ m *Metrics }

func (r readerMetrics) Reads(id string) reader.Counter { return r.m.ReadsTotal.WithLabelValues(id) }
func (r readerMetrics) FrameErrors(id string) reader.Counter {
	return r.m.ReaderFrameErrors.WithLabelValues(id)
}
func (r readerMetrics) Reconnects(id string) reader.Counter {
	return r.m.ReaderReconnects.WithLabelValues(id)
}
func (r readerMetrics) Connected(id string) reader.Gauge {
	return r.m.ReaderConnected.WithLabelValues(id)
}
func (r readerMetrics) AntennaConnected(id, antenna string) reader.Gauge {
	return r.m.AntennaConnected.WithLabelValues(id, antenna)
}
func (r readerMetrics) ConfigReapplied(id string) reader.Counter {
	return r.m.ReaderConfigReapplied.WithLabelValues(id)
}
func (r readerMetrics) ClockOffset(id string) reader.Gauge {
	return r.m.ReaderClockOffset.WithLabelValues(id)
}
func (r readerMetrics) Ignored(id, reason string) reader.Counter {
	return r.m.ReadsIgnoredTotal.WithLabelValues(id, reason)
}

// Edge is the edge engine's StatsSink: rfidgw_reads_ignored_total and
// rfidgw_edge_tags_tracked.
func (m *Metrics) Edge() edge.StatsSink { return edgeSink{m} }

type edgeSink struct{ m *Metrics }

func (s edgeSink) IgnoredCounter(reader, reason string) edge.Counter {
	return s.m.ReadsIgnoredTotal.WithLabelValues(reader, reason)
}

func (s edgeSink) TagsTracked(n int) { s.m.TagsTracked.Set(float64(n)) }
