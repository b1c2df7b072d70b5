package mqtt

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// Payload formats (reader config key `format`).
const (
	FormatImpinj = "impinj" // Impinj IoT device interface ReaderEvent (R700, R720)
	FormatZebra  = "zebra"  // Zebra IoT Connector tag data event (FX7500, FX9600, ATR7000)
	FormatJSON   = "json"   // any JSON object, fields picked by a reader.JSONMapping
)

// maxEPCHex bounds an EPC: the same bound as every source's.
const maxEPCHex = reader.MaxEPCHex

// PayloadError reports the events of one payload that could not be
// decoded. Reads of the good events in the same payload are still returned.
type PayloadError struct {
	Bad   int   // events (or the whole payload, for a syntax error) that gave no read
	First error // the first problem; wraps ErrBadPayload
}

func (e *PayloadError) Error() string {
	if e.Bad > 1 {
		return fmt.Sprintf("%v (and %d more bad events in this payload)", e.First, e.Bad-1)
	}
	return e.First.Error()
}

func (e *PayloadError) Unwrap() error { return e.First }

// Parser decodes the payloads of one format into reads. It is immutable
// and safe for concurrent use.
type Parser struct {
	format string
	json   jsonMapping
}

// NewParser returns a parser for format impinj, zebra or json. mapping is
// used by json only; nil means the fields of a read (docs/zones.md: epc, antenna,
// rssi, time, reader; hex, dBm, RFC 3339).
func NewParser(format string, mapping *reader.JSONMapping) (*Parser, error) {
	p := &Parser{format: format}
	switch format {
	case FormatImpinj, FormatZebra:
		if mapping != nil {
			return nil, fmt.Errorf("%w: mapping: only used with format json, not %q", ErrConfig, format)
		}
	case FormatJSON:
		m, err := compileMapping(mapping)
		if err != nil {
			return nil, err
		}
		p.json = m
	case "":
		return nil, fmt.Errorf("%w: format: missing; want impinj, zebra or json", ErrConfig)
	default:
		return nil, fmt.Errorf("%w: format: unknown %q; want impinj, zebra or json", ErrConfig, format)
	}
	return p, nil
}

// Format returns the parser's payload format.
func (p *Parser) Format() string { return p.format }

// Parse decodes one payload of format impinj, zebra or json (with the
// default mapping) and appends its reads to dst. See Parser.Parse.
func Parse(format string, payload []byte, recv time.Time, dst []reader.Read) ([]reader.Read, error) {
	var p *Parser
	switch format {
	case FormatImpinj:
		p = &impinjParser
	case FormatZebra:
		p = &zebraParser
	case FormatJSON:
		p = &defaultJSONParser
	default:
		return dst, fmt.Errorf("%w: format: unknown %q; want impinj, zebra or json", ErrConfig, format)
	}
	return p.Parse(payload, recv, dst)
}

var (
	impinjParser      = Parser{format: FormatImpinj}
	zebraParser       = Parser{format: FormatZebra}
	defaultJSONParser = func() Parser {
		m, err := compileMapping(nil)
		if err != nil {
			panic(err) // the default mapping is a constant
		}
		return Parser{format: FormatJSON, json: m}
	}()
)

// Parse decodes one MQTT payload and appends a read per tag event to dst.
// A payload may hold one event object, a JSON array of them (batching), or
// several objects one after another, with or without newlines between
// them. Times are returned in UTC; an event without a time gets recv. Reads
// get Reader set only when the payload names one (json mapping `reader`);
// the caller fills in the rest. Events that are not tag reads (Impinj
// inventoryStatus, Zebra heartbeat) are skipped without error.
//
// A bad event gives no read and a *PayloadError (wrapping ErrBadPayload),
// but the good events of the same payload are still returned; after a
// syntax error nothing more of the payload is read.
func (p *Parser) Parse(payload []byte, recv time.Time, dst []reader.Read) ([]reader.Read, error) {
	recv = recv.UTC()
	var s scanner
	s.buf = payload
	var perr *PayloadError
	fail := func(err error) {
		if perr == nil {
			perr = &PayloadError{First: err}
		}
		perr.Bad++
	}
	for {
		s.ws()
		if s.pos >= len(s.buf) {
			break
		}
		switch s.buf[s.pos] {
		case '{':
			var bad, syntax error
			dst, bad, syntax = p.event(&s, recv, dst)
			if syntax != nil {
				fail(syntax)
				return dst, perr
			}
			if bad != nil {
				fail(bad)
			}
		case '[':
			s.pos++
			for n := 0; ; n++ {
				more, err := s.element(n)
				if err != nil {
					fail(err)
					return dst, perr
				}
				if !more {
					break
				}
				if s.peek() != '{' {
					at := s.pos
					kind := s.kind()
					if err := s.skip(1); err != nil {
						fail(err)
						return dst, perr
					}
					fail(fmt.Errorf("%w: at byte %d: array element is a %s, want an event object", ErrBadPayload, at, kind))
					continue
				}
				var bad, syntax error
				dst, bad, syntax = p.event(&s, recv, dst)
				if syntax != nil {
					fail(syntax)
					return dst, perr
				}
				if bad != nil {
					fail(bad)
				}
			}
		default:
			fail(s.unexpected("an event object or an array of them"))
			return dst, perr
		}
	}
	if perr != nil {
		return dst, perr
	}
	return dst, nil
}

// event decodes one event object (scanner at '{'). bad is a problem with
// the event's content (the object was consumed); syntax means the payload
// cannot be read further.
func (p *Parser) event(s *scanner, recv time.Time, dst []reader.Read) (out []reader.Read, bad, syntax error) {
	s.scratch = s.scratch[:0]
	at := s.pos
	var ev rawEvent
	var err error
	switch p.format {
	case FormatImpinj:
		err = impinjEvent(s, &ev)
	case FormatZebra:
		err = zebraEvent(s, &ev)
	default:
		err = p.json.event(s, &ev)
	}
	if err != nil {
		return dst, nil, err
	}
	if ev.bad != nil {
		return dst, fmt.Errorf("%w: event at byte %d: %w", ErrBadPayload, at, ev.bad), nil
	}
	if ev.skip {
		return dst, nil, nil
	}
	r, err := p.read(&ev, recv)
	if err != nil {
		return dst, fmt.Errorf("%w: event at byte %d: %w", ErrBadPayload, at, err), nil
	}
	return append(dst, r), nil, nil
}

// rawEvent holds the fields of one event as found in the payload; they
// are converted once the whole object has been read, since JSON keys come
// in any order.
type rawEvent struct {
	epc       []byte
	epcBase64 bool
	antenna   []byte // number literal
	rssi      []byte // number literal
	time      []byte // string content, or a number literal for unix times
	reader    []byte
	skip      bool  // not a tag read (status, heartbeat)
	bad       error // first content problem (wrong type) found while reading
}

func (ev *rawEvent) wrongType(s *scanner, field, want string) error {
	if ev.bad == nil {
		ev.bad = fmt.Errorf("%s is a %s, want a %s", field, s.kind(), want)
	}
	return s.skip(1)
}

// takeString reads a string value into *dst, a null as absent, and notes
// any other type as a content problem.
func (ev *rawEvent) takeString(s *scanner, field string, dst *[]byte) error {
	switch s.peek() {
	case '"':
		v, err := s.str()
		*dst = v
		return err
	case 'n':
		if s.null() {
			return nil
		}
	}
	return ev.wrongType(s, field, "string")
}

func (ev *rawEvent) takeNumber(s *scanner, field string, dst *[]byte) error {
	switch c := s.peek(); {
	case c == '-' || (c >= '0' && c <= '9'):
		v, err := s.number()
		*dst = v
		return err
	case c == 'n':
		if s.null() {
			return nil
		}
	}
	return ev.wrongType(s, field, "number")
}

// read converts a raw event into a Read.
func (p *Parser) read(ev *rawEvent, recv time.Time) (reader.Read, error) {
	var r reader.Read
	var err error
	if ev.epc == nil {
		return r, errors.New("missing epc")
	}
	if ev.epcBase64 {
		r.EPC, err = base64EPC(ev.epc)
	} else {
		r.EPC, err = hexEPC(ev.epc)
	}
	if err != nil {
		return r, err
	}
	if ev.antenna != nil {
		a, ok := parseInt(ev.antenna)
		if !ok || a < 0 || a > math.MaxUint16 {
			return r, fmt.Errorf("antenna %s: want a port number 0..65535", ev.antenna)
		}
		r.Antenna = int(a)
	}
	if ev.rssi != nil {
		v, ok := parseFloat(ev.rssi)
		if !ok {
			return r, fmt.Errorf("rssi %s: not a number", ev.rssi)
		}
		switch p.format {
		case FormatImpinj:
			v /= 100 // peakRssiCdbm is centi-dBm
		case FormatJSON:
			v *= p.json.rssiScale
		}
		if v < -200 || v > 50 {
			return r, fmt.Errorf("rssi %s: %g dBm is out of range", ev.rssi, v)
		}
		r.RSSI = v
	}
	r.Time = recv
	if ev.time != nil {
		if p.format == FormatJSON {
			r.Time, err = p.json.parseTime(ev.time)
		} else {
			r.Time, err = parseISOTime(ev.time)
		}
		if err != nil {
			return r, fmt.Errorf("time %q: %w", clip(ev.time), err)
		}
	}
	if len(ev.reader) > 0 {
		r.Reader = string(ev.reader)
	}
	return r, nil
}

// impinjEvent reads an Impinj IoT device interface ReaderEvent:
// {"timestamp":…,"eventType":"tagInventory","tagInventoryEvent":{"epcHex"|"epc",
// "antennaPort","peakRssiCdbm","lastSeenTime",…}}.
func impinjEvent(s *scanner, ev *rawEvent) error {
	s.pos++ // '{'
	var eventType, timestamp, lastSeen, epcHex, epc64 []byte
	sawTag := false
	for n := 0; ; n++ {
		key, more, err := s.member(n)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		switch string(key) {
		case "timestamp":
			err = ev.takeString(s, "timestamp", &timestamp)
		case "eventType":
			err = ev.takeString(s, "eventType", &eventType)
		case "tagInventoryEvent":
			if s.peek() != '{' {
				if s.null() {
					continue
				}
				err = ev.wrongType(s, "tagInventoryEvent", "object")
				break
			}
			sawTag = true
			s.pos++
			for m := 0; ; m++ {
				key, more, err := s.member(m)
				if err != nil {
					return err
				}
				if !more {
					break
				}
				switch string(key) {
				case "epcHex":
					err = ev.takeString(s, "tagInventoryEvent.epcHex", &epcHex)
				case "epc":
					err = ev.takeString(s, "tagInventoryEvent.epc", &epc64)
				case "antennaPort":
					err = ev.takeNumber(s, "tagInventoryEvent.antennaPort", &ev.antenna)
				case "peakRssiCdbm":
					err = ev.takeNumber(s, "tagInventoryEvent.peakRssiCdbm", &ev.rssi)
				case "lastSeenTime":
					err = ev.takeString(s, "tagInventoryEvent.lastSeenTime", &lastSeen)
				default:
					err = s.skip(2)
				}
				if err != nil {
					return err
				}
			}
		default:
			err = s.skip(1)
		}
		if err != nil {
			return err
		}
	}
	if eventType != nil && string(eventType) != "tagInventory" {
		ev.skip = true // inventoryStatus, antennaConnected, …: not a read
		return nil
	}
	if !sawTag && ev.bad == nil {
		ev.bad = errors.New(`no tagInventoryEvent (want {"eventType":"tagInventory","tagInventoryEvent":{…}})`)
	}
	switch {
	case epcHex != nil:
		ev.epc = epcHex
	case epc64 != nil:
		ev.epc, ev.epcBase64 = epc64, true
	}
	// lastSeenTime is when the tag was seen; timestamp when the event was made.
	if lastSeen != nil {
		ev.time = lastSeen
	} else {
		ev.time = timestamp
	}
	return nil
}

// zebraEvent reads a Zebra IoT Connector tag data event:
// {"type":"SIMPLE","timestamp":"…+0000","data":{"idHex","format","antenna","peakRssi",…}}.
func zebraEvent(s *scanner, ev *rawEvent) error {
	s.pos++ // '{'
	var typ, format []byte
	sawData := false
	for n := 0; ; n++ {
		key, more, err := s.member(n)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		switch string(key) {
		case "type":
			err = ev.takeString(s, "type", &typ)
		case "timestamp":
			err = ev.takeString(s, "timestamp", &ev.time)
		case "data":
			if s.peek() != '{' {
				if s.null() {
					continue
				}
				err = ev.wrongType(s, "data", "object")
				break
			}
			sawData = true
			s.pos++
			for m := 0; ; m++ {
				key, more, err := s.member(m)
				if err != nil {
					return err
				}
				if !more {
					break
				}
				switch string(key) {
				case "idHex":
					err = ev.takeString(s, "data.idHex", &ev.epc)
				case "format":
					err = ev.takeString(s, "data.format", &format)
				case "antenna":
					err = ev.takeNumber(s, "data.antenna", &ev.antenna)
				case "peakRssi":
					err = ev.takeNumber(s, "data.peakRssi", &ev.rssi)
				default:
					err = s.skip(2)
				}
				if err != nil {
					return err
				}
			}
		default:
			err = s.skip(1)
		}
		if err != nil {
			return err
		}
	}
	if strings.EqualFold(string(typ), "heartbeat") {
		ev.skip = true
		return nil
	}
	if ev.bad == nil {
		switch {
		case !sawData:
			ev.bad = errors.New(`no data object (want {"type":…,"timestamp":…,"data":{"idHex":…}})`)
		case format != nil && !strings.EqualFold(string(format), "epc"):
			ev.bad = fmt.Errorf("data.format is %q: idHex is not an EPC; set the reader's tag id format to epc", clip(format))
		}
	}
	return nil
}

// hexEPC checks hex digits and returns them upper-cased (one allocation).
func hexEPC(b []byte) (string, error) {
	if len(b) == 0 || len(b)%2 != 0 || len(b) > maxEPCHex {
		return "", fmt.Errorf("epc %q: want an even number (2..%d) of hex digits", clip(b), maxEPCHex)
	}
	var buf [maxEPCHex]byte
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'F':
		case c >= 'a' && c <= 'f':
			c -= 'a' - 'A'
		default:
			return "", fmt.Errorf("epc %q: not hex", clip(b))
		}
		buf[i] = c
	}
	return string(buf[:len(b)]), nil
}

// base64EPC decodes Impinj's default `epc` (base64 of the EPC bytes).
func base64EPC(b []byte) (string, error) {
	enc := base64.StdEncoding
	if len(b)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	var raw [maxEPCHex / 2]byte
	if len(b) == 0 || enc.DecodedLen(len(b)) > len(raw) {
		return "", fmt.Errorf("epc %q: want base64 of 1..%d bytes", clip(b), len(raw))
	}
	n, err := enc.Decode(raw[:], b)
	if err != nil || n == 0 {
		return "", fmt.Errorf("epc %q: not base64 (Impinj epc is base64; epcHex is hex)", clip(b))
	}
	const digits = "0123456789ABCDEF"
	var out [maxEPCHex]byte
	for i, c := range raw[:n] {
		out[i*2] = digits[c>>4]
		out[i*2+1] = digits[c&0xF]
	}
	return string(out[:n*2]), nil
}

// clip shortens a value for an error message.
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
