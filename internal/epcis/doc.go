// Package epcis owns rfidgw's GS1 EPCIS 2.0 output: turning a movement event
// into a JSON-LD ObjectEvent (action OBSERVE, bizStep from a configurable
// mapping with CBV defaults, readPoint and bizLocation from per-zone
// settings, epcList with the pure identity or the raw EPC URI, eventTime and
// eventTimeZoneOffset, eventID = the CBV 2.0 event hash, and the gateway's
// own fields in the rfidgw: extension namespace), wrapping events in an
// EPCISDocument, and computing the event hash (HashEvent).
//
// It is pure: values in, bytes out; no I/O, no clock (the caller passes
// creationDate). It depends only on edge's event types and internal/gs1.
//
//	func NewEncoder(cfg Config) (*Encoder, error)
//	func (enc *Encoder) Encode(e *edge.Event) (ObjectEvent, bool, error)
//	func (enc *Encoder) AppendJSON(dst []byte, e *edge.Event) ([]byte, bool, error)
//	func (enc *Encoder) Document(events []ObjectEvent, created time.Time) ([]byte, error)
//	func ParseEvent(b []byte) (edge.Event, error)
//	func HashEvent(ev map[string]any, ns map[string]string) (id, prehash string, err error)
package epcis
