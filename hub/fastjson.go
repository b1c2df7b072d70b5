package hub

import (
	"time"
)

// parseEventFast decodes the event JSON without reflection: one pass over
// the bytes, no allocations but the strings kept. Any form it does not
// handle (escapes in strings, exotic numbers) returns ok false and the
// caller falls back to encoding/json, so it accepts exactly what
// encoding/json accepts for the fields the hub reads.
func parseEventFast(v []byte, c *strCache) (e Event, ok bool) {
	s := scanner{b: v, c: c}
	if !s.expect('{') {
		return e, false
	}
	if s.peek() == '}' {
		s.i++
		return e, s.end()
	}
	for {
		key, ok := s.rawString()
		if !ok || !s.expect(':') {
			return e, false
		}
		switch string(key) {
		case "schema":
			n, ok := s.uint()
			if !ok {
				return e, false
			}
			e.Schema = int(min(n, 1<<30))
		case "id":
			if _, ok = s.rawString(); !ok { // derived from gateway, epoch and seq when needed
				return e, false
			}
		case "epoch":
			if e.Epoch, ok = s.interned(); !ok {
				return e, false
			}
		case "seq":
			if e.Seq, ok = s.uint(); !ok {
				return e, false
			}
		case "gateway":
			if e.Gateway, ok = s.interned(); !ok {
				return e, false
			}
		case "type":
			b, ok := s.rawString()
			if !ok {
				return e, false
			}
			e.Type = internType(b)
		case "epc":
			if e.EPC, ok = s.strPtr(); !ok {
				return e, false
			}
		case "time":
			if e.Time, ok = s.str(); !ok {
				return e, false
			}
		case "zone":
			if e.Zone, ok = s.internedPtr(); !ok {
				return e, false
			}
		case "from":
			if e.From, ok = s.location(); !ok {
				return e, false
			}
		case "to":
			if e.To, ok = s.location(); !ok {
				return e, false
			}
		case "dropped":
			if e.Dropped, ok = s.uint(); !ok {
				return e, false
			}
		case "first_seq":
			if e.FirstSeq, ok = s.uint(); !ok {
				return e, false
			}
		case "last_seq":
			if e.LastSeq, ok = s.uint(); !ok {
				return e, false
			}
		default:
			if !s.skip(0) {
				return e, false
			}
		}
		switch s.next() {
		case ',':
			continue
		case '}':
			return e, s.end()
		default:
			return e, false
		}
	}
}

var eventTypes = []string{"inward", "outward", "rack_move", "rack_depart", "gap"}

func internType(b []byte) string {
	for _, t := range eventTypes {
		if string(b) == t {
			return t
		}
	}
	return string(b)
}

type scanner struct {
	b []byte
	i int
	c *strCache
}

// strCache interns the few distinct strings events repeat (gateways,
// epochs, zones, floors, ...): one per consumer goroutine, bounded.
type strCache struct{ m map[string]string }

const strCacheMax = 1 << 16

func (c *strCache) get(b []byte) string {
	if c == nil {
		return string(b)
	}
	if s, ok := c.m[string(b)]; ok {
		return s
	}
	if c.m == nil || len(c.m) >= strCacheMax {
		c.m = make(map[string]string, 1024)
	}
	s := string(b)
	c.m[s] = s
	return s
}

func (s *scanner) interned() (string, bool) {
	b, ok := s.rawString()
	return s.c.get(b), ok
}

func (s *scanner) internedPtr() (*string, bool) {
	if s.null() {
		return nil, true
	}
	v, ok := s.interned()
	return &v, ok
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) next() byte {
	c := s.peek()
	if c != 0 {
		s.i++
	}
	return c
}

func (s *scanner) expect(c byte) bool { return s.next() == c }

func (s *scanner) end() bool { s.ws(); return s.i == len(s.b) }

// rawString returns the bytes of a string without escapes.
func (s *scanner) rawString() ([]byte, bool) {
	if !s.expect('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false // escapes and non-ASCII: the slow path checks UTF-8
		}
		s.i++
	}
	return nil, false
}

func (s *scanner) str() (string, bool) {
	b, ok := s.rawString()
	return string(b), ok
}

func (s *scanner) null() bool {
	if s.peek() == 'n' && s.i+4 <= len(s.b) && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

func (s *scanner) strPtr() (*string, bool) {
	if s.null() {
		return nil, true
	}
	v, ok := s.str()
	return &v, ok
}

func (s *scanner) uint() (uint64, bool) {
	s.ws()
	start := s.i
	n := uint64(0)
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		if n > (1<<64-1)/10-1 {
			return 0, false
		}
		n = n*10 + uint64(s.b[s.i]-'0')
		s.i++
	}
	if s.i == start || (s.b[start] == '0' && s.i-start > 1) {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	return n, true
}

func (s *scanner) location() (*Location, bool) {
	if s.null() {
		return nil, true
	}
	if !s.expect('{') {
		return nil, false
	}
	l := &Location{}
	if s.peek() == '}' {
		s.i++
		return l, true
	}
	for {
		key, ok := s.rawString()
		if !ok || !s.expect(':') {
			return nil, false
		}
		var dst *string
		switch string(key) {
		case "zone":
			dst = &l.Zone
		case "floor":
			dst = &l.Floor
		case "room":
			dst = &l.Room
		case "row":
			dst = &l.Row
		case "rack":
			dst = &l.Rack
		}
		if dst != nil {
			if *dst, ok = s.interned(); !ok {
				return nil, false
			}
		} else if !s.skip(0) {
			return nil, false
		}
		switch s.next() {
		case ',':
		case '}':
			return l, true
		default:
			return nil, false
		}
	}
}

// skip passes over one value of any kind (depth-bounded).
func (s *scanner) skip(depth int) bool {
	if depth > 32 {
		return false
	}
	switch c := s.peek(); {
	case c == '"':
		_, ok := s.rawString()
		return ok
	case c == '{' || c == '[':
		s.i++
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		if s.peek() == closer {
			s.i++
			return true
		}
		for {
			if c == '{' {
				if _, ok := s.rawString(); !ok || !s.expect(':') {
					return false
				}
			}
			if !s.skip(depth + 1) {
				return false
			}
			switch s.next() {
			case ',':
			case closer:
				return true
			default:
				return false
			}
		}
	case c == 't' || c == 'f' || c == 'n':
		for _, w := range []string{"true", "false", "null"} {
			if s.i+len(w) <= len(s.b) && string(s.b[s.i:s.i+len(w)]) == w {
				s.i += len(w)
				return true
			}
		}
		return false
	case c == '-' || (c >= '0' && c <= '9'):
		start := s.i
		for s.i < len(s.b) {
			switch d := s.b[s.i]; {
			case d >= '0' && d <= '9', d == '-', d == '+', d == '.', d == 'e', d == 'E':
				s.i++
				continue
			}
			break
		}
		return s.i > start
	}
	return false
}

// parseTime parses the events' "2006-01-02T15:04:05.000Z" quickly, else
// falls back to RFC 3339.
func parseTime(v string) (time.Time, error) {
	if len(v) == 24 && v[4] == '-' && v[7] == '-' && v[10] == 'T' && v[13] == ':' && v[16] == ':' && v[19] == '.' && v[23] == 'Z' {
		d := func(i, n int) (int, bool) {
			x := 0
			for _, c := range v[i : i+n] {
				if c < '0' || c > '9' {
					return 0, false
				}
				x = x*10 + int(c-'0')
			}
			return x, true
		}
		y, ok1 := d(0, 4)
		mo, ok2 := d(5, 2)
		dd, ok3 := d(8, 2)
		h, ok4 := d(11, 2)
		mi, ok5 := d(14, 2)
		se, ok6 := d(17, 2)
		ms, ok7 := d(20, 3)
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && mo >= 1 && mo <= 12 && dd >= 1 && dd <= 31 && h < 24 && mi < 60 && se < 60 {
			t := time.Date(y, time.Month(mo), dd, h, mi, se, ms*1e6, time.UTC)
			if t.Day() == dd {
				return t, nil
			}
		}
	}
	return time.Parse(time.RFC3339Nano, v)
}
