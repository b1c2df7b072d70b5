package mqtt

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// Fields a json mapping can fill, in jsonMapping.paths order.
const (
	fieldEPC = iota
	fieldAntenna
	fieldRSSI
	fieldTime
	fieldReader
	numFields
)

var fieldNames = [numFields]string{"epc", "antenna", "rssi", "time", "reader"}

// jsonMapping is a reader.JSONMapping checked and split into path segments.
type jsonMapping struct {
	paths      [numFields][]string // nil: field not mapped
	base64     bool
	rssiScale  float64
	timeFormat string // rfc3339 | unix_s | unix_ms | unix_us | a Go layout
}

func compileMapping(m *reader.JSONMapping) (jsonMapping, error) {
	var out jsonMapping
	src := reader.JSONMapping{EPC: "epc", Antenna: "antenna", RSSI: "rssi", Time: "time", Reader: "reader"}
	if m != nil {
		src = *m
	}
	spec := [numFields]string{src.EPC, src.Antenna, src.RSSI, src.Time, src.Reader}
	if spec[fieldEPC] == "" {
		return out, fmt.Errorf("%w: mapping.epc: missing; name the field that holds the EPC, e.g. epc or tag.epc", ErrConfig)
	}
	for f, path := range spec {
		if path == "" {
			continue
		}
		segs := strings.Split(path, ".")
		for _, seg := range segs {
			if seg == "" {
				return out, fmt.Errorf("%w: mapping.%s: path %q has an empty segment; want dot-separated keys like tag.epc", ErrConfig, fieldNames[f], path)
			}
		}
		out.paths[f] = segs
	}
	for f := range out.paths {
		for g := range out.paths {
			if f != g && out.paths[f] != nil && out.paths[g] != nil && isPrefix(out.paths[f], out.paths[g]) {
				return out, fmt.Errorf("%w: mapping.%s: path %q contains mapping.%s %q; a field cannot be inside another",
					ErrConfig, fieldNames[g], spec[g], fieldNames[f], spec[f])
			}
		}
	}
	switch strings.ToLower(src.EPCEncoding) {
	case "", "hex":
	case "base64":
		out.base64 = true
	default:
		return out, fmt.Errorf("%w: mapping.epc_encoding: unknown %q; want hex or base64", ErrConfig, src.EPCEncoding)
	}
	switch strings.ToLower(src.RSSIUnit) {
	case "", "dbm":
		out.rssiScale = 1
	case "cdbm", "centi_dbm", "centidbm":
		out.rssiScale = 0.01
	default:
		return out, fmt.Errorf("%w: mapping.rssi_unit: unknown %q; want dbm or cdbm (centi-dBm)", ErrConfig, src.RSSIUnit)
	}
	switch tf := src.TimeFormat; strings.ToLower(tf) {
	case "", "rfc3339", "iso8601":
		out.timeFormat = "rfc3339"
	case "unix_s", "unix_ms", "unix_us":
		out.timeFormat = strings.ToLower(tf)
	default:
		// A Go layout must at least hold a year and a time of day.
		if !strings.Contains(tf, "2006") || !strings.Contains(tf, "15") && !strings.Contains(tf, "03") && !strings.Contains(tf, "3") {
			return out, fmt.Errorf("%w: mapping.time_format: %q is not rfc3339, unix_s, unix_ms, unix_us or a Go time layout like 2006-01-02 15:04:05.000", ErrConfig, tf)
		}
		out.timeFormat = tf
	}
	return out, nil
}

func isPrefix(a, b []string) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// event reads one object (scanner at '{') and picks the mapped fields.
func (m *jsonMapping) event(s *scanner, ev *rawEvent) error {
	var active uint8
	for f := range m.paths {
		if m.paths[f] != nil {
			active |= 1 << f
		}
	}
	if err := m.walk(s, ev, active, 0); err != nil {
		return err
	}
	ev.epcBase64 = m.base64
	return nil
}

// walk reads an object at nesting level (scanner at '{'); active holds the
// fields whose paths match the keys so far.
func (m *jsonMapping) walk(s *scanner, ev *rawEvent, active uint8, level int) error {
	if level > maxDepth {
		return s.errorf("nested deeper than %d", maxDepth)
	}
	s.pos++
	for n := 0; ; n++ {
		key, more, err := s.member(n)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		var leaf, deeper uint8
		for f := 0; f < numFields; f++ {
			if active&(1<<f) == 0 {
				continue
			}
			if p := m.paths[f]; p[level] == string(key) {
				if level == len(p)-1 {
					leaf |= 1 << f
				} else {
					deeper |= 1 << f
				}
			}
		}
		switch {
		case leaf != 0:
			// Paths cannot nest (compileMapping), so a leaf key is one field.
			err = m.take(s, ev, leaf)
		case deeper != 0 && s.peek() == '{':
			err = m.walk(s, ev, deeper, level+1)
		default:
			err = s.skip(level + 1)
		}
		if err != nil {
			return err
		}
	}
}

func (m *jsonMapping) take(s *scanner, ev *rawEvent, field uint8) error {
	switch field {
	case 1 << fieldEPC:
		return ev.takeString(s, "mapped epc", &ev.epc)
	case 1 << fieldAntenna:
		return ev.takeNumber(s, "mapped antenna", &ev.antenna)
	case 1 << fieldRSSI:
		return ev.takeNumber(s, "mapped rssi", &ev.rssi)
	case 1 << fieldReader:
		return ev.takeString(s, "mapped reader", &ev.reader)
	case 1 << fieldTime:
		if m.timeFormat == "unix_s" || m.timeFormat == "unix_ms" || m.timeFormat == "unix_us" {
			if c := s.peek(); c == '-' || (c >= '0' && c <= '9') {
				return ev.takeNumber(s, "mapped time", &ev.time)
			}
		}
		return ev.takeString(s, "mapped time", &ev.time)
	}
	return s.skip(1)
}

// parseTime converts a mapped time value (string content or number literal).
func (m *jsonMapping) parseTime(b []byte) (time.Time, error) {
	var unit float64
	switch m.timeFormat {
	case "rfc3339":
		return parseISOTime(b)
	case "unix_s":
		unit = 1e9
	case "unix_ms":
		unit = 1e6
	case "unix_us":
		unit = 1e3
	default:
		t, err := time.Parse(m.timeFormat, string(b))
		if err != nil {
			return time.Time{}, fmt.Errorf("does not match time_format %q", m.timeFormat)
		}
		return t.UTC(), nil
	}
	if n, ok := parseInt(b); ok && n >= 0 && float64(n)*unit < math.MaxInt64 {
		return time.Unix(0, n*int64(unit)).UTC(), nil
	}
	f, ok := parseFloat(b)
	if !ok || f < 0 || f*unit >= math.MaxInt64 {
		return time.Time{}, fmt.Errorf("want a non-negative number for %s", m.timeFormat)
	}
	return time.Unix(0, int64(f*unit)).UTC(), nil
}
