package reader

// Metrics is where a source counts, per reader id: the daemon passes its
// Prometheus metrics (internal/metrics.Metrics.Readers) through Env, so this
// package and the edge that imports it stay free of Prometheus. Discard
// counts nothing.
type Metrics interface {
	Reads(reader string) Counter       // rfidgw_reads_total
	FrameErrors(reader string) Counter // rfidgw_reader_frame_errors_total
	Reconnects(reader string) Counter  // rfidgw_reader_reconnects_total
	Connected(reader string) Gauge     // rfidgw_reader_connected
	// Ignored counts reads a source drops by a bound (e.g. the MQTT
	// source's too_many_readers): rfidgw_reads_ignored_total.
	Ignored(reader, reason string) Counter
	// AntennaConnected: 1 while the reader reports the antenna connected,
	// 0 while disconnected (rfidgw_antenna_connected).
	AntennaConnected(reader, antenna string) Gauge
	// ConfigReapplied counts reconnects after which the reader had lost
	// the gateway's settings (rfidgw_reader_config_reapplied_total).
	ConfigReapplied(reader string) Counter
	// ClockOffset is reader clock minus gateway clock in seconds, as
	// estimated from its timestamps (rfidgw_reader_clock_offset_seconds).
	ClockOffset(reader string) Gauge
}

// Counter is a monotonic count (a prometheus.Counter is one).
type Counter interface {
	Inc()
	Add(float64)
}

// Gauge is a value that goes up and down (a prometheus.Gauge is one).
type Gauge interface{ Set(float64) }

// Discard is the Metrics of a source given none (tests, `rfidgw check`).
var Discard Metrics = discard{}

type discard struct{}

func (discard) Reads(string) Counter               { return nop{} }
func (discard) FrameErrors(string) Counter         { return nop{} }
func (discard) Reconnects(string) Counter          { return nop{} }
func (discard) Connected(string) Gauge             { return nop{} }
func (discard) Ignored(_, _ string) Counter        { return nop{} }
func (discard) AntennaConnected(_, _ string) Gauge { return nop{} }
func (discard) ConfigReapplied(string) Counter     { return nop{} }
func (discard) ClockOffset(string) Gauge           { return nop{} }

type nop struct{}

func (nop) Inc()        {}
func (nop) Add(float64) {}
func (nop) Set(float64) {}
