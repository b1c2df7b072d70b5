// Package buffer owns the durable local queue of events between the edge
// engine and the uplink: a bbolt file in data_dir where every event is
// committed (fsync'd) and given its gap-free sequence number before it counts
// as accepted, and from which it is deleted only after Kafka acknowledged it.
// It also keeps the small edge state that must survive restarts, in the same
// transaction as the events that state caused.
package buffer

import "time"

// Record is one committed event as the uplink sees it.
type Record struct {
	Seq       uint64    // gap-free per gateway, from 1, across restarts
	Key       []byte    // Kafka key: the EPC, or the gateway id for a gap event
	Type      string    // event type (inward, outward, rack_move, rack_depart, gap)
	Time      time.Time // event time
	Committed time.Time // when the buffer committed it (for lag)
	Value     []byte    // the event JSON of docs/events.md, with id and seq
}
