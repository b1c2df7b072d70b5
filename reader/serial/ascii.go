package serial

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// DefaultASCIIPattern matches a plain hex EPC, optionally followed by an
// antenna number and an RSSI in dBm, separated by ',' ';' or whitespace:
//
//	E2003098881900722140369E
//	E2003098881900722140369E,2,-61.5
//	E2003098881900722140369E 2 -61
const DefaultASCIIPattern = `^\s*(?P<epc>[0-9A-Fa-f]+)(?:(?:\s*[,;]\s*|\s+)(?P<antenna>\d+)(?:(?:\s*[,;]\s*|\s+)(?P<rssi>[-+]?\d+(?:\.\d+)?))?)?\s*$`

// MaxLineLength bounds one ASCII line; a longer one is dropped (a reader
// stuck printing without line ends must not grow the buffer forever).
const MaxLineLength = 1024

// ASCIIDecoder splits a byte stream into lines (CR, LF or CRLF) and parses
// each with a regular expression whose named groups are:
//
//	epc      required; hex, spaces and ':' '-' inside are removed (Alien "%i" style)
//	antenna  optional, 1-based; default 1
//	antenna0 optional, 0-based (Alien "Ant:0"); reported +1
//	rssi     optional, dBm; default 0 (counts as strong)
//
// It is a pure function of the bytes fed to it.
type ASCIIDecoder struct {
	byteQueue
	re                 *regexp.Regexp
	epc, ant, ant0, rs int // submatch indices, -1 when absent
	fast               bool
	skipping           bool // inside an over-long line, dropping up to its end
}

// NewASCIIDecoder compiles pattern ("" means DefaultASCIIPattern).
func NewASCIIDecoder(pattern string) (*ASCIIDecoder, error) {
	if pattern == "" {
		pattern = DefaultASCIIPattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, keyed.Tag(fmt.Errorf("%w: pattern %q: %w", ErrConfig, pattern, err), "pattern", "%q: %v", pattern, err)
	}
	d := &ASCIIDecoder{re: re, epc: re.SubexpIndex("epc"), ant: re.SubexpIndex("antenna"),
		ant0: re.SubexpIndex("antenna0"), rs: re.SubexpIndex("rssi"), fast: pattern == DefaultASCIIPattern}
	if d.epc < 0 {
		return nil, keyed.Tag(fmt.Errorf("%w: pattern %q has no named group (?P<epc>…)", ErrConfig, pattern), "pattern", "%q has no named group (?P<epc>…)", pattern)
	}
	return d, nil
}

// Feed appends bytes read from the line.
func (d *ASCIIDecoder) Feed(p []byte) { d.feed(p) }

// Next returns the tag of the next complete non-blank line, ErrIncomplete
// when no complete line is buffered, or an error (ErrNoMatch, ErrBadRecord,
// ErrLineTooLong) for a line it had to drop; keep calling Next after errors.
func (d *ASCIIDecoder) Next() (Tag, error) {
	for {
		b := d.pending()
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			if len(b) > MaxLineLength {
				d.off += len(b)
				if d.skipping {
					continue
				}
				d.skipping = true
				return Tag{}, &FrameError{Err: ErrLineTooLong, Skipped: len(b)}
			}
			return Tag{}, ErrIncomplete
		}
		line := b[:i]
		d.off += i + 1
		if d.skipping {
			d.skipping = false
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue // blank line, or the LF of a CRLF
		}
		if len(line) > MaxLineLength {
			return Tag{}, &FrameError{Err: ErrLineTooLong, Skipped: len(line)}
		}
		return d.ParseLine(line)
	}
}

// ParseLine parses one line without its line end.
func (d *ASCIIDecoder) ParseLine(line []byte) (Tag, error) {
	var epc, ant, ant0, rssi []byte
	matched := false
	if d.fast {
		var g [3][]byte
		g, matched = splitDefaultLine(line)
		epc, ant, rssi = g[0], g[1], g[2]
	}
	if !matched {
		m := d.re.FindSubmatchIndex(line)
		if m == nil {
			return Tag{}, fmt.Errorf("%w: %q", ErrNoMatch, truncate(line))
		}
		group := func(i int) []byte {
			if i < 0 || m[2*i] < 0 {
				return nil
			}
			return line[m[2*i]:m[2*i+1]]
		}
		epc, ant, ant0, rssi = group(d.epc), group(d.ant), group(d.ant0), group(d.rs)
	}
	e, err := normalizeASCIIEPC(epc)
	if err != nil {
		return Tag{}, fmt.Errorf("%w: line %q: %w", ErrBadRecord, truncate(line), err)
	}
	t := Tag{EPC: e, Antenna: 1}
	if ant != nil {
		a, err := strconv.Atoi(string(ant))
		if err != nil || a < 1 || a > 65535 {
			return Tag{}, fmt.Errorf("%w: line %q: antenna %q is not a port number 1..65535", ErrBadRecord, truncate(line), ant)
		}
		t.Antenna = a
	} else if ant0 != nil {
		a, err := strconv.Atoi(string(ant0))
		if err != nil || a < 0 || a > 65534 {
			return Tag{}, fmt.Errorf("%w: line %q: antenna0 %q is not a port number 0..65534", ErrBadRecord, truncate(line), ant0)
		}
		t.Antenna = a + 1
	}
	if rssi != nil {
		r, err := strconv.ParseFloat(string(rssi), 64)
		if err != nil || r < -200 || r > 50 {
			return Tag{}, fmt.Errorf("%w: line %q: rssi %q is not a dBm value", ErrBadRecord, truncate(line), rssi)
		}
		t.RSSI = r
	}
	return t, nil
}

// splitDefaultLine is DefaultASCIIPattern written out by hand, 5-10x
// faster than the regular expression; FuzzASCII checks that the two agree.
// ok is false when the line does not match; groups absent are nil.
func splitDefaultLine(line []byte) (g [3][]byte, ok bool) {
	i := skipSpace(line, 0)
	j := i
	for j < len(line) && isHex(line[j]) {
		j++
	}
	if j == i {
		return g, false
	}
	g[0] = line[i:j]
	for k := 1; k <= 2; k++ {
		if e := skipSpace(line, j); e == len(line) {
			return g, true
		}
		s := skipSpace(line, j)
		if s < len(line) && (line[s] == ',' || line[s] == ';') {
			s = skipSpace(line, s+1)
		} else if s == j {
			return g, false // no separator
		}
		e := s
		if k == 2 && e < len(line) && (line[e] == '-' || line[e] == '+') {
			e++
		}
		d := e
		for d < len(line) && isDigit(line[d]) {
			d++
		}
		if d == e {
			return g, false
		}
		if k == 2 && d+1 < len(line) && line[d] == '.' && isDigit(line[d+1]) {
			d++
			for d < len(line) && isDigit(line[d]) {
				d++
			}
		}
		g[k] = line[s:d]
		j = d
	}
	return g, skipSpace(line, j) == len(line)
}

// skipSpace skips what RE2's \s matches: tab, newline, form feed, CR, space.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\f', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f' }

func normalizeASCIIEPC(g []byte) (string, error) {
	s := string(g)
	if strings.ContainsAny(s, " \t:-") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', ':', '-':
				return -1
			}
			return r
		}, s)
	}
	return reader.NormalizeEPC(s)
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// Abandon drops a partial line that did not complete in time, so stray
// bytes do not spoil the next line. It returns nil when nothing was pending.
func (d *ASCIIDecoder) Abandon() error {
	n := d.Buffered()
	if n == 0 {
		return nil
	}
	d.off += n
	if d.skipping {
		d.skipping = false
		return nil
	}
	return &FrameError{Err: ErrTruncated, Skipped: n}
}
