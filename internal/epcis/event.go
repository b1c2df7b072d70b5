package epcis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/gs1"
)

// ContextURL is the EPCIS 2.0 JSON-LD context every event and document names.
const ContextURL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

// Namespace is the IRI of the rfidgw: extension prefix. It is an identifier
// (it names the section of docs/events.md that documents the fields).
const Namespace = "https://github.com/rfidgw/rfidgw/blob/main/docs/events.md#"

// Prefix is the JSON-LD prefix of rfidgw's extension fields.
const Prefix = "rfidgw"

// DefaultBizSteps is the CBV 2.0 business step of each movement when the
// configuration does not say otherwise:
//
//   - inward -> arriving: CBV "arriving" is an object arriving at a location;
//     the tag crossed a gate into the floor.
//   - outward -> departing: CBV "departing" is an object leaving a location
//     on its way elsewhere; the tag crossed the gate out.
//   - rack_move -> storing: CBV "storing" is moving an object into (and out
//     of) storage within a location. A rack move is exactly that: the asset
//     settled in a rack (a storage position) inside the floor the gateway
//     covers, first placement or move from another rack alike. "installing"
//     (an object put into a larger object, e.g. a component into an
//     assembly) was the other candidate, but the gateway only sees that the
//     asset sits in a rack's read field, not that it was mounted, and racks
//     also hold spares; sites that do mean installation can map rack_move to
//     installing in the config.
//   - rack_depart -> storing: the other half of the same definition (out of
//     storage within the location); bizLocation is left out because the
//     gateway does not know where the asset went.
var DefaultBizSteps = map[string]string{
	string(edge.Inward):     "arriving",
	string(edge.Outward):    "departing",
	string(edge.RackMove):   "storing",
	string(edge.RackDepart): "storing",
}

// movements are the event types that become EPCIS events (gap does not).
var movements = []string{string(edge.Inward), string(edge.Outward), string(edge.RackMove), string(edge.RackDepart)}

// Config is the EPCIS mapping of one gateway.
type Config struct {
	// BizSteps maps movement types to a bizStep: a bare CBV 2.0 value
	// (arriving) or a URI. Types not set take DefaultBizSteps.
	BizSteps map[string]string
	// Dispositions maps movement types to a disposition (bare CBV 2.0 value
	// or URI); types not set get none.
	Dispositions map[string]string
	// TimeZone gives eventTimeZoneOffset: an IANA zone name (Europe/Berlin,
	// the offset then follows daylight saving time at each event's time) or
	// a fixed offset like +01:00. Empty means +00:00.
	TimeZone string
	// Zones holds the readPoint and bizLocation of each zone by name.
	Zones map[string]Zone
}

// Zone is a zone's EPCIS identity: URIs, typically SGLNs
// (urn:epc:id:sgln:0614141.00777.0), or any other absolute URI.
type Zone struct {
	ReadPoint   string
	BizLocation string
}

// Encoder turns events into EPCIS ObjectEvents. It is immutable and safe
// for concurrent use.
type Encoder struct {
	bizSteps, dispositions map[string]string
	loc                    *time.Location
	fixed                  string
	zones                  map[string]Zone
}

var offsetRE = regexp.MustCompile(`^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$`)

// NewEncoder checks the configuration; the error names every bad setting.
func NewEncoder(cfg Config) (*Encoder, error) {
	enc := &Encoder{bizSteps: map[string]string{}, dispositions: map[string]string{}, zones: map[string]Zone{}}
	var errs []string
	for k, v := range DefaultBizSteps {
		enc.bizSteps[k] = v
	}
	for _, m := range []struct {
		name string
		in   map[string]string
		out  map[string]string
		list []string
	}{{"biz_steps", cfg.BizSteps, enc.bizSteps, cbvBizSteps}, {"dispositions", cfg.Dispositions, enc.dispositions, cbvDispositions}} {
		for _, k := range sortedKeys(m.in) {
			v := strings.TrimSpace(m.in[k])
			if !slices.Contains(movements, k) {
				errs = append(errs, fmt.Sprintf("%s.%s: not a movement type (%s)", m.name, k, strings.Join(movements, ", ")))
				continue
			}
			if !slices.Contains(m.list, v) && !isVocabURI(v) {
				errs = append(errs, fmt.Sprintf("%s.%s: %q is neither a CBV 2.0 value (%s) nor a URI outside urn:epcglobal:cbv", m.name, k, v, strings.Join(m.list, ", ")))
				continue
			}
			m.out[k] = v
		}
	}
	switch tz := strings.TrimSpace(cfg.TimeZone); {
	case tz == "":
		enc.fixed = "+00:00"
	case offsetRE.MatchString(tz):
		enc.fixed = tz
	default:
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			errs = append(errs, fmt.Sprintf("time_zone: %q is neither an IANA time zone name (Europe/Berlin) nor an offset like +01:00", tz))
		}
		enc.loc = loc
	}
	for _, name := range sortedKeys(cfg.Zones) {
		z := cfg.Zones[name]
		for _, f := range []struct{ key, v string }{{"read_point", z.ReadPoint}, {"biz_location", z.BizLocation}} {
			if f.v == "" {
				continue
			}
			if err := CheckLocationURI(f.v); err != nil {
				errs = append(errs, fmt.Sprintf("zones.%s.epcis.%s: %v", name, f.key, err))
			}
		}
		enc.zones[name] = z
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.Join(errs, "; "))
	}
	return enc, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var uriScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$`)

// isVocabURI: a URI that the EPCIS JSON Schema accepts for bizStep and
// disposition (not the old CBV URNs, which have bare forms).
func isVocabURI(s string) bool {
	return uriScheme.MatchString(s) && !strings.HasPrefix(s, "urn:epcglobal:cbv") && !strings.HasPrefix(s, "https://ns.gs1.org/cbv/") && !strings.HasPrefix(s, "http://ns.gs1.org/cbv/")
}

// CheckLocationURI checks a readPoint or bizLocation: an absolute URI; an
// EPC URI must be a valid SGLN (urn:epc:id:sgln:...); a GS1 Digital Link
// must be on id.gs1.org (the event hash keeps it as written, so it has to be
// canonical already). These rules make rfidgw's eventID equal what the
// reference hash tool computes.
func CheckLocationURI(s string) error {
	switch {
	case !uriScheme.MatchString(s):
		return fmt.Errorf("%q is not an absolute URI (scheme:...)", s)
	case strings.HasPrefix(s, "urn:epc:"):
		if !strings.HasPrefix(s, "urn:epc:id:sgln:") {
			return fmt.Errorf("%q: a location EPC URI is an SGLN, urn:epc:id:sgln:COMPANYPREFIX.LOCATIONREF.EXTENSION", s)
		}
		if _, _, err := gs1.ParseURI(s); err != nil {
			return err
		}
	case strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://"):
		if strings.Contains(s, "/414/") && !strings.HasPrefix(s, "https://id.gs1.org/414/") {
			return fmt.Errorf("%q: write a GS1 Digital Link location on https://id.gs1.org/ or as an urn:epc:id:sgln URI", s)
		}
	}
	return nil
}

// ObjectEvent is one EPCIS 2.0 ObjectEvent in JSON-LD, in the order its
// fields are written.
type ObjectEvent struct {
	Context             any       `json:"@context,omitempty"`
	Type                string    `json:"type"`
	EventID             string    `json:"eventID,omitempty"`
	EventTime           string    `json:"eventTime"`
	EventTimeZoneOffset string    `json:"eventTimeZoneOffset"`
	EPCList             []string  `json:"epcList"`
	Action              string    `json:"action"`
	BizStep             string    `json:"bizStep,omitempty"`
	Disposition         string    `json:"disposition,omitempty"`
	ReadPoint           *Place    `json:"readPoint,omitempty"`
	BizLocation         *Place    `json:"bizLocation,omitempty"`
	ID                  string    `json:"rfidgw:id"`
	Gateway             string    `json:"rfidgw:gateway"`
	Seq                 uint64    `json:"rfidgw:seq"`
	Movement            string    `json:"rfidgw:movement"`
	EPC                 string    `json:"rfidgw:epc"`
	Zone                string    `json:"rfidgw:zone,omitempty"`
	From                *Location `json:"rfidgw:from,omitempty"`
	To                  *Location `json:"rfidgw:to,omitempty"`
	Evidence            *Evidence `json:"rfidgw:evidence,omitempty"`
}

// Place is a readPoint or bizLocation.
type Place struct {
	ID string `json:"id"`
}

// Location is a rack location in the extension namespace.
type Location struct {
	Zone  string `json:"rfidgw:zone,omitempty"`
	Floor string `json:"rfidgw:floor,omitempty"`
	Room  string `json:"rfidgw:room,omitempty"`
	Row   string `json:"rfidgw:row,omitempty"`
	Rack  string `json:"rfidgw:rack,omitempty"`
}

// Evidence is the engine's evidence in the extension namespace.
type Evidence struct {
	Reads     int      `json:"rfidgw:reads"`
	FirstSeen string   `json:"rfidgw:first_seen"`
	LastSeen  string   `json:"rfidgw:last_seen"`
	PeakRSSI  float64  `json:"rfidgw:peak_rssi"`
	Readers   []string `json:"rfidgw:readers,omitempty"`
	Antennas  []int    `json:"rfidgw:antennas,omitempty"`
}

// Context is the @context of a standalone event or a document.
func Context() []any {
	return []any{ContextURL, map[string]string{Prefix: Namespace}}
}

var namespaces = map[string]string{Prefix: Namespace}

// Encode maps one event; ok is false for events that have no EPCIS form
// (gap). The result has its eventID and no @context.
func (enc *Encoder) Encode(e *edge.Event) (ObjectEvent, bool, error) {
	if !slices.Contains(movements, string(e.Type)) {
		return ObjectEvent{}, false, nil
	}
	if e.EPC == "" {
		return ObjectEvent{}, false, fmt.Errorf("%w: %s event %s without an EPC", ErrEvent, e.Type, e.ID())
	}
	uri := gs1.RawURI(e.EPC)
	if d, err := gs1.Decode(e.EPC); err == nil {
		uri = d.URI
	}
	ev := ObjectEvent{
		Type:                "ObjectEvent",
		EventTime:           e.Time.UTC().Format(edge.EventTimeLayout),
		EventTimeZoneOffset: enc.offset(e.Time),
		EPCList:             []string{uri},
		Action:              "OBSERVE",
		BizStep:             enc.bizSteps[string(e.Type)],
		Disposition:         enc.dispositions[string(e.Type)],
		ID:                  e.ID(),
		Gateway:             e.Gateway,
		Seq:                 e.Seq,
		Movement:            string(e.Type),
		EPC:                 e.EPC,
		Zone:                e.Zone,
		From:                location(e.From),
		To:                  location(e.To),
	}
	z := enc.zones[e.Zone]
	if z.ReadPoint != "" {
		ev.ReadPoint = &Place{z.ReadPoint}
	}
	// The object is at the zone's bizLocation after arriving or settling;
	// after leaving (outward, rack_depart) its location is not known.
	if z.BizLocation != "" && (e.Type == edge.Inward || e.Type == edge.RackMove) {
		ev.BizLocation = &Place{z.BizLocation}
	}
	if v := e.Evidence; v != nil {
		ev.Evidence = &Evidence{Reads: v.Reads, FirstSeen: v.FirstSeen.UTC().Format(edge.EventTimeLayout), LastSeen: v.LastSeen.UTC().Format(edge.EventTimeLayout),
			PeakRSSI: v.PeakRSSI, Readers: v.Readers, Antennas: v.Antennas}
	}
	id, err := EventID(&ev)
	if err != nil {
		return ObjectEvent{}, false, err
	}
	ev.EventID = id
	return ev, true, nil
}

// EventID computes the CBV 2.0 event hash of ev (its eventID and @context
// are not part of it), from the values its JSON has: what a reader of the
// JSON hashes (TestEventIDWithoutJSON and FuzzEncodeEvent hold the two
// together).
func EventID(ev *ObjectEvent) (string, error) {
	m, err := ev.hashTree()
	if err != nil {
		return "", err
	}
	id, _, err := HashEvent(m, namespaces)
	return id, err
}

// hashTree is ev as encoding/json would decode its JSON (with UseNumber):
// what HashEvent takes, without the JSON round trip.
func (ev *ObjectEvent) hashTree() (map[string]any, error) {
	m := map[string]any{
		"type":                str(ev.Type),
		"eventTime":           str(ev.EventTime),
		"eventTimeZoneOffset": str(ev.EventTimeZoneOffset),
		"action":              str(ev.Action),
		Prefix + ":id":        str(ev.ID),
		Prefix + ":gateway":   str(ev.Gateway),
		Prefix + ":seq":       json.Number(strconv.FormatUint(ev.Seq, 10)),
		Prefix + ":movement":  str(ev.Movement),
		Prefix + ":epc":       str(ev.EPC),
	}
	epcs := make([]any, len(ev.EPCList))
	for i, e := range ev.EPCList {
		epcs[i] = str(e)
	}
	m["epcList"] = epcs
	if ev.EPCList == nil {
		m["epcList"] = nil
	}
	opt := func(k, v string) {
		if v != "" {
			m[k] = str(v)
		}
	}
	opt("bizStep", ev.BizStep)
	opt("disposition", ev.Disposition)
	opt(Prefix+":zone", ev.Zone)
	if ev.ReadPoint != nil {
		m["readPoint"] = map[string]any{"id": str(ev.ReadPoint.ID)}
	}
	if ev.BizLocation != nil {
		m["bizLocation"] = map[string]any{"id": str(ev.BizLocation.ID)}
	}
	for k, l := range map[string]*Location{Prefix + ":from": ev.From, Prefix + ":to": ev.To} {
		if l == nil {
			continue
		}
		lm := map[string]any{}
		for lk, lv := range map[string]string{"zone": l.Zone, "floor": l.Floor, "room": l.Room, "row": l.Row, "rack": l.Rack} {
			if lv != "" {
				lm[Prefix+":"+lk] = str(lv)
			}
		}
		m[k] = lm
	}
	if v := ev.Evidence; v != nil {
		if math.IsNaN(v.PeakRSSI) || math.IsInf(v.PeakRSSI, 0) {
			return nil, fmt.Errorf("%w: peak RSSI %v has no JSON form", ErrEvent, v.PeakRSSI)
		}
		em := map[string]any{
			Prefix + ":reads":      json.Number(strconv.Itoa(v.Reads)),
			Prefix + ":first_seen": str(v.FirstSeen),
			Prefix + ":last_seen":  str(v.LastSeen),
			Prefix + ":peak_rssi":  json.Number(strconv.FormatFloat(v.PeakRSSI, 'g', -1, 64)),
		}
		if len(v.Readers) > 0 {
			l := make([]any, len(v.Readers))
			for i, r := range v.Readers {
				l[i] = str(r)
			}
			em[Prefix+":readers"] = l
		}
		if len(v.Antennas) > 0 {
			l := make([]any, len(v.Antennas))
			for i, a := range v.Antennas {
				l[i] = json.Number(strconv.Itoa(a))
			}
			em[Prefix+":antennas"] = l
		}
		m[Prefix+":evidence"] = em
	}
	return m, nil
}

// str is a string as it comes back from JSON: encoding/json writes each
// byte of invalid UTF-8 as U+FFFD.
func str(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.WriteString(s[i : i+n])
		}
		i += n
	}
	return sb.String()
}

// eventIDViaJSON is EventID the long way: marshal, decode, hash. The tests
// compare the two.
func eventIDViaJSON(ev *ObjectEvent) (string, error) {
	c := *ev
	c.EventID, c.Context = "", nil
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrEvent, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return "", fmt.Errorf("%w: %w", ErrEvent, err)
	}
	id, _, err := HashEvent(m, namespaces)
	return id, err
}

func location(l *edge.Location) *Location {
	if l == nil {
		return nil
	}
	return &Location{Zone: l.Zone, Floor: l.Floor, Room: l.Room, Row: l.Row, Rack: l.Rack}
}

// offset is the eventTimeZoneOffset at t.
func (enc *Encoder) offset(t time.Time) string {
	if enc.loc == nil {
		return enc.fixed
	}
	_, sec := t.In(enc.loc).Zone()
	sign := byte('+')
	if sec < 0 {
		sign, sec = '-', -sec
	}
	return fmt.Sprintf("%c%02d:%02d", sign, sec/3600, sec/60%60)
}

// AppendJSON appends e as a standalone ObjectEvent (with @context): the
// value of a message on the EPCIS topic. ok is false for gap events.
func (enc *Encoder) AppendJSON(dst []byte, e *edge.Event) ([]byte, bool, error) {
	ev, ok, err := enc.Encode(e)
	if !ok || err != nil {
		return dst, ok, err
	}
	ev.Context = Context()
	b, err := json.Marshal(&ev)
	if err != nil {
		return dst, false, fmt.Errorf("%w: %w", ErrEvent, err)
	}
	return append(dst, b...), true, nil
}

// Document is an EPCISDocument holding events (their own @context left
// out: the document's declares the rfidgw: prefix), created at created.
func Document(events []ObjectEvent, created time.Time) ([]byte, error) {
	list := make([]ObjectEvent, len(events))
	for i, ev := range events {
		ev.Context = nil
		list[i] = ev
	}
	doc := struct {
		Context       []any  `json:"@context"`
		Type          string `json:"type"`
		SchemaVersion string `json:"schemaVersion"`
		CreationDate  string `json:"creationDate"`
		Body          struct {
			EventList []ObjectEvent `json:"eventList"`
		} `json:"epcisBody"`
	}{Context: Context(), Type: "EPCISDocument", SchemaVersion: "2.0", CreationDate: created.UTC().Format(edge.EventTimeLayout)}
	doc.Body.EventList = list
	b, err := json.MarshalIndent(&doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEvent, err)
	}
	return append(b, '\n'), nil
}

// ParseEvent reads an rfidgw event (docs/events.md) back from its JSON.
func ParseEvent(b []byte) (edge.Event, error) {
	var j struct {
		Seq      uint64         `json:"seq"`
		Epoch    string         `json:"epoch"`
		Gateway  string         `json:"gateway"`
		Type     string         `json:"type"`
		EPC      *string        `json:"epc"`
		Time     time.Time      `json:"time"`
		Zone     *string        `json:"zone"`
		From     *edge.Location `json:"from"`
		To       *edge.Location `json:"to"`
		Evidence *edge.Evidence `json:"evidence"`
		Dropped  uint64         `json:"dropped"`
		FirstSeq uint64         `json:"first_seq"`
		LastSeq  uint64         `json:"last_seq"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return edge.Event{}, fmt.Errorf("%w: %w", ErrEvent, err)
	}
	if j.Gateway == "" || j.Type == "" {
		return edge.Event{}, fmt.Errorf("%w: not an rfidgw event (no gateway or type)", ErrEvent)
	}
	e := edge.Event{Seq: j.Seq, Gateway: j.Gateway, Type: edge.EventType(j.Type), Time: j.Time, From: j.From, To: j.To, Evidence: j.Evidence,
		Dropped: j.Dropped, FirstSeq: j.FirstSeq, LastSeq: j.LastSeq, Epoch: j.Epoch}
	if j.EPC != nil {
		e.EPC = *j.EPC
	}
	if j.Zone != nil {
		e.Zone = *j.Zone
	}
	return e, nil
}
