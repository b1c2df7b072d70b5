package zonepage

import (
	"encoding/json"
	"sync"

	"github.com/rfidgw/rfidgw/edge"
)

// EventLog keeps the most recent events as their JSON (docs/events.md), for
// Model.Events and for a tag's recent events: the buffer forgets an event
// once Kafka has it, the page should not. The gateway adds each event once
// the buffer committed it (so it has its seq). Safe for concurrent use.
type EventLog struct {
	mu   sync.Mutex
	ring []loggedEvent
	next int // slot of the next event
	n    int // events held
}

type loggedEvent struct {
	epc  string
	json json.RawMessage
}

// NewEventLog keeps the last size events (at least 1; 1000 is plenty).
func NewEventLog(size int) *EventLog {
	return &EventLog{ring: make([]loggedEvent, max(size, 1))}
}

// Add records committed events, oldest first.
func (l *EventLog) Add(events ...edge.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range events {
		e := &events[i]
		l.ring[l.next] = loggedEvent{epc: e.EPC, json: e.AppendJSON(nil)}
		l.next = (l.next + 1) % len(l.ring)
		l.n = min(l.n+1, len(l.ring))
	}
}

// Recent returns up to limit events, newest first. The slices are shared
// and never changed: do not modify them.
func (l *EventLog) Recent(limit int) []json.RawMessage {
	return l.collect(limit, "")
}

// ForTag returns up to limit events of one EPC, newest first.
func (l *EventLog) ForTag(epc string, limit int) []json.RawMessage {
	if epc == "" {
		return nil
	}
	return l.collect(limit, epc)
}

func (l *EventLog) collect(limit int, epc string) []json.RawMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]json.RawMessage, 0, min(max(limit, 0), l.n))
	for k := 1; k <= l.n && len(out) < limit; k++ {
		e := &l.ring[(l.next-k+len(l.ring))%len(l.ring)]
		if epc == "" || e.epc == epc {
			out = append(out, e.json)
		}
	}
	return out
}
