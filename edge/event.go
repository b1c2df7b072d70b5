package edge

import (
	"strconv"
	"time"

	"github.com/rfidgw/rfidgw/internal/gs1"
)

// EventType is the kind of movement an Event records (docs/events.md).
type EventType string

// Event types.
const (
	Inward     EventType = "inward"
	Outward    EventType = "outward"
	RackMove   EventType = "rack_move"
	RackDepart EventType = "rack_depart"
	Gap        EventType = "gap"
)

// SchemaVersion is the `schema` field of every event.
const SchemaVersion = 1

// EventTimeLayout is the time format of events: UTC with milliseconds.
const EventTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Location is one end of a rack move: the rack zone and where it stands.
type Location struct {
	Zone  string `json:"zone"`
	Floor string `json:"floor"`
	Room  string `json:"room"`
	Row   string `json:"row"`
	Rack  string `json:"rack"`
}

// Evidence is what the engine saw that made it emit an event, so that a
// person can check the decision.
type Evidence struct {
	Reads     int       `json:"reads"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	PeakRSSI  float64   `json:"peak_rssi"`
	Readers   []string  `json:"readers"`
	Antennas  []int     `json:"antennas"`
}

// Event is one movement (or a gap record). The engine fills everything but
// Seq and Gateway; the buffer assigns Seq when it commits the event, and the
// id is derived as "<gateway>-<seq>".
type Event struct {
	Seq      uint64
	Gateway  string
	Type     EventType
	EPC      string
	Time     time.Time
	Zone     string
	From     *Location
	To       *Location
	Evidence *Evidence

	// gap events only
	Dropped  uint64
	FirstSeq uint64
	LastSeq  uint64

	// Epoch is the gateway's stream epoch, set only on an event read back
	// from Kafka (the uplink puts it into the id on the way out; the engine
	// and the buffer never set it).
	Epoch string
}

// ID is the event's stable identifier: "<gateway>-<seq>", or
// "<gateway>-<epoch>-<seq>" once the event carries its stream epoch.
func (e *Event) ID() string {
	if e.Epoch != "" {
		return e.Gateway + "-" + e.Epoch + "-" + strconv.FormatUint(e.Seq, 10)
	}
	return e.Gateway + "-" + strconv.FormatUint(e.Seq, 10)
}

// Key is the Kafka message key: the EPC, or the gateway id for a gap event.
func (e *Event) Key() string {
	if e.Type == Gap || e.EPC == "" {
		return e.Gateway
	}
	return e.EPC
}

// AppendJSON appends the event as the JSON object docs/events.md describes. The output
// depends only on the event's fields, so the same events give the same bytes.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"schema":1,"id":`...)
	dst = append(dst, '"')
	dst = append(dst, e.Gateway...)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `,"gateway":`...)
	dst = strconv.AppendQuote(dst, e.Gateway)
	dst = append(dst, `,"type":`...)
	dst = strconv.AppendQuote(dst, string(e.Type))
	dst = append(dst, `,"epc":`...)
	if e.EPC == "" {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendQuote(dst, e.EPC)
	}
	// epc_uri: the GS1 pure identity of the EPC, null when it does not
	// decode (another scheme, or not an EPC) and on gap events.
	dst = append(dst, `,"epc_uri":`...)
	if u := EPCURI(e.EPC); u == "" {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendQuote(dst, u)
	}
	dst = append(dst, `,"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, EventTimeLayout)
	dst = append(dst, `","zone":`...)
	if e.Zone == "" {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendQuote(dst, e.Zone)
	}
	dst = append(dst, `,"from":`...)
	dst = appendLocation(dst, e.From)
	dst = append(dst, `,"to":`...)
	dst = appendLocation(dst, e.To)
	if e.Type == Gap {
		dst = append(dst, `,"dropped":`...)
		dst = strconv.AppendUint(dst, e.Dropped, 10)
		dst = append(dst, `,"first_seq":`...)
		dst = strconv.AppendUint(dst, e.FirstSeq, 10)
		dst = append(dst, `,"last_seq":`...)
		dst = strconv.AppendUint(dst, e.LastSeq, 10)
	}
	dst = append(dst, `,"evidence":`...)
	dst = appendEvidence(dst, e.Evidence)
	return append(dst, '}')
}

// EPCURI is the GS1 pure identity URI of an EPC (urn:epc:id:...), "" when
// it does not decode (TDS 2.x, internal/gs1).
func EPCURI(epc string) string {
	if epc == "" {
		return ""
	}
	d, err := gs1.Decode(epc)
	if err != nil {
		return ""
	}
	return d.URI
}

func appendLocation(dst []byte, l *Location) []byte {
	if l == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"zone":`...)
	dst = strconv.AppendQuote(dst, l.Zone)
	dst = append(dst, `,"floor":`...)
	dst = strconv.AppendQuote(dst, l.Floor)
	dst = append(dst, `,"room":`...)
	dst = strconv.AppendQuote(dst, l.Room)
	dst = append(dst, `,"row":`...)
	dst = strconv.AppendQuote(dst, l.Row)
	dst = append(dst, `,"rack":`...)
	dst = strconv.AppendQuote(dst, l.Rack)
	return append(dst, '}')
}

func appendEvidence(dst []byte, ev *Evidence) []byte {
	if ev == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"reads":`...)
	dst = strconv.AppendInt(dst, int64(ev.Reads), 10)
	dst = append(dst, `,"first_seen":"`...)
	dst = ev.FirstSeen.UTC().AppendFormat(dst, EventTimeLayout)
	dst = append(dst, `","last_seen":"`...)
	dst = ev.LastSeen.UTC().AppendFormat(dst, EventTimeLayout)
	dst = append(dst, `","peak_rssi":`...)
	dst = strconv.AppendFloat(dst, ev.PeakRSSI, 'f', -1, 64)
	dst = append(dst, `,"readers":[`...)
	for i, r := range ev.Readers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, r)
	}
	dst = append(dst, `],"antennas":[`...)
	for i, a := range ev.Antennas {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, int64(a), 10)
	}
	return append(dst, "]}"...)
}
