package hub

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Location is a rack (or gate) location as events carry it.
type Location struct {
	Zone  string `json:"zone"`
	Floor string `json:"floor"`
	Room  string `json:"room"`
	Row   string `json:"row"`
	Rack  string `json:"rack"`
}

// Event is what the hub reads of a movement event (docs/events.md).
type Event struct {
	Schema   int       `json:"schema"`
	ID       string    `json:"id"`
	Epoch    string    `json:"epoch"`
	Seq      uint64    `json:"seq"`
	Gateway  string    `json:"gateway"`
	Type     string    `json:"type"`
	EPC      *string   `json:"epc"`
	Time     string    `json:"time"`
	Zone     *string   `json:"zone"`
	From     *Location `json:"from"`
	To       *Location `json:"to"`
	Dropped  uint64    `json:"dropped"`
	FirstSeq uint64    `json:"first_seq"`
	LastSeq  uint64    `json:"last_seq"`

	at time.Time // parsed Time
}

// Status is what the hub reads of a gateway status (docs/status.schema.json).
type Status struct {
	Schema          int               `json:"schema"`
	Gateway         string            `json:"gateway"`
	Time            time.Time         `json:"time"`
	Kind            string            `json:"kind"`
	Readers         map[string]string `json:"readers"`
	BufferEvents    int64             `json:"buffer_events"`
	LagSeconds      float64           `json:"lag_seconds"`
	UplinkConnected bool              `json:"uplink_connected"`
	Epoch           string            `json:"epoch"`
	EpochFirstSeq   uint64            `json:"epoch_first_seq"`
	NewEpoch        bool              `json:"new_epoch"`
	EpochReason     string            `json:"epoch_reason"`
	LastSeq         uint64            `json:"last_seq"`
	OldestSeq       uint64            `json:"oldest_seq"`
}

var (
	gatewayRe = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)
	epochRe   = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

const (
	maxEPCLen   = 256 // hex digits
	maxZoneLen  = 256
	maxValueLen = 64 << 10
)

// parseEvent decodes and checks an event value; the error says why the
// message is unusable (it goes to the DLQ with that reason).
func parseEvent(v []byte) (Event, error) { return parseEventCached(v, nil) }

// parseEventCached is parseEvent with a string cache (one per goroutine).
func parseEventCached(v []byte, c *strCache) (Event, error) {
	var e Event
	if len(v) > maxValueLen {
		return e, fmt.Errorf("%w: value of %d bytes (max %d)", ErrBadMessage, len(v), maxValueLen)
	}
	if fe, ok := parseEventFast(v, c); ok {
		e = fe
	} else if err := json.Unmarshal(v, &e); err != nil {
		return e, fmt.Errorf("%w: not JSON: %v", ErrBadMessage, err)
	}
	if e.Schema != 1 {
		return e, fmt.Errorf("%w: unknown schema version %d (want 1)", ErrBadMessage, e.Schema)
	}
	if !validGateway(e.Gateway) {
		return e, fmt.Errorf("%w: gateway %q does not match [a-z0-9._-]{1,64}", ErrBadMessage, e.Gateway)
	}
	if e.Epoch != "" && !validEpoch(e.Epoch) {
		return e, fmt.Errorf("%w: epoch %q is not 16 hex digits", ErrBadMessage, e.Epoch)
	}
	if e.Seq == 0 {
		return e, fmt.Errorf("%w: seq missing or 0", ErrBadMessage)
	}
	t, err := parseTime(e.Time)
	if err != nil {
		return e, fmt.Errorf("%w: time %q: %v", ErrBadMessage, e.Time, err)
	}
	e.at = t
	switch e.Type {
	case "gap":
		if e.FirstSeq == 0 || e.LastSeq < e.FirstSeq || e.Dropped == 0 {
			return e, fmt.Errorf("%w: gap event without a valid first_seq..last_seq and dropped", ErrBadMessage)
		}
		return e, nil
	case "inward", "outward", "rack_move", "rack_depart":
	default:
		return e, fmt.Errorf("%w: unknown type %q", ErrBadMessage, e.Type)
	}
	if e.EPC == nil || len(*e.EPC) == 0 || len(*e.EPC) > maxEPCLen || !isUpperHex(*e.EPC) {
		return e, fmt.Errorf("%w: %s event without a valid epc (upper-case hex, 1..%d digits)", ErrBadMessage, e.Type, maxEPCLen)
	}
	if e.Zone == nil || len(*e.Zone) == 0 || len(*e.Zone) > maxZoneLen {
		return e, fmt.Errorf("%w: %s event without a zone", ErrBadMessage, e.Type)
	}
	switch {
	case e.Type == "rack_move" && e.To == nil:
		return e, fmt.Errorf("%w: rack_move without to", ErrBadMessage)
	case e.Type == "rack_depart" && e.From == nil:
		return e, fmt.Errorf("%w: rack_depart without from", ErrBadMessage)
	}
	for _, l := range []*Location{e.From, e.To} {
		if l != nil && (l.Zone == "" || len(l.Zone)+len(l.Floor)+len(l.Room)+len(l.Row)+len(l.Rack) > 4*maxZoneLen) {
			return e, fmt.Errorf("%w: location without a zone or too long", ErrBadMessage)
		}
	}
	return e, nil
}

func isUpperHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// parseStatus decodes and checks a gateway status value.
func parseStatus(v []byte) (Status, error) {
	var s Status
	if len(v) > 4*maxValueLen {
		return s, fmt.Errorf("%w: status of %d bytes", ErrBadMessage, len(v))
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return s, fmt.Errorf("%w: status not JSON: %v", ErrBadMessage, err)
	}
	if s.Schema != 1 {
		return s, fmt.Errorf("%w: unknown status schema version %d (want 1)", ErrBadMessage, s.Schema)
	}
	if !gatewayRe.MatchString(s.Gateway) {
		return s, fmt.Errorf("%w: status gateway %q does not match [a-z0-9._-]{1,64}", ErrBadMessage, s.Gateway)
	}
	if s.Epoch != "" && !epochRe.MatchString(s.Epoch) {
		return s, fmt.Errorf("%w: status epoch %q is not 16 hex digits", ErrBadMessage, s.Epoch)
	}
	return s, nil
}

func validGateway(g string) bool {
	if len(g) == 0 || len(g) > 64 {
		return false
	}
	for i := 0; i < len(g); i++ {
		c := g[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func validEpoch(e string) bool {
	if len(e) != 16 {
		return false
	}
	for i := 0; i < len(e); i++ {
		if c := e[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
