// Package edge owns the turning of raw tag reads into movement events: zones
// (gates and racks), smoothing (min_rssi, min_reads within presence_window,
// lost_after), gate direction, rack moves and departures, reader health, and
// the recording of reads for tuning (Recorder).
//
// The Engine is pure: it has no goroutines, no clock, no I/O and no metrics
// of its own (the owner exports its counters through a StatsSink).
// A single owner feeds it reads and the current time and collects the events
// it returns; the same input gives the same events, byte for byte, whatever
// the Tick cadence, which is what `rfidgw replay` relies on.
//
// API for the owner (see Engine for the call order):
//
//	func New(cfg Config) (*Engine, error)
//	func (c Config) Validate() error
//	func (e *Engine) Process(dst []Event, r *reader.Read) []Event
//	func (e *Engine) Tick(dst []Event, now time.Time) []Event
//	func (e *Engine) Flush(dst []Event, now time.Time) []Event
//	func (e *Engine) Reconfigure(cfg Config) error
//	func (e *Engine) Restore(epc, rack string)
//	func (e *Engine) TakeStateChanges(dst []StateChange) []StateChange
//	func (e *Engine) PendingStateChanges() int
//	func (e *Engine) Stats() Stats
//	func (e *Engine) SetStatsSink(s StatsSink)  // counters for the owner to export (metrics)
//	func (e *Engine) Snapshot(now time.Time, fn func(TagView))
//	func NewRecorder(path string, maxBytes int64, opts ...RecorderOption) (*Recorder, error)
//	func (r *Recorder) Write(rd *reader.Read) error
//	func (r *Recorder) Flush() error
//	func (r *Recorder) Close() error
//
// How the decisions are made (docs/zones.md explains every knob):
//
//   - A read is routed by (reader, antenna) to at most one zone; reads from
//     no zone or weaker than the zone's min_rssi are counted (Stats,
//     rfidgw_reads_ignored_total) and dropped.
//   - Racks: per (tag, zone) the engine keeps the times of the last
//     min_reads reads (present = min_reads within presence_window) and a
//     time-weighted RSSI average (time constant presence_window/2). The
//     candidate is the present rack with the strongest average; it must beat
//     a present settled rack by hysteresis_db and stay the candidate for
//     dwell, then rack_move. rack_depart comes lost_after after the last read
//     in the settled rack, counting only time when all the rack's readers
//     were online.
//   - Gates: once both sides saw the tag min_reads times within
//     gate_window, the engine waits until gate_window/4 has passed after
//     the later side's peak (at most gate_window), then compares the times
//     of each side's peak RSSI: outside first = inward. Both sides then
//     start afresh, so lingering on one side repeats nothing.
//   - Timeouts are kept in a heap of lower-bound deadlines that reads never
//     touch; they fire in due order and events carry the due time.
package edge
