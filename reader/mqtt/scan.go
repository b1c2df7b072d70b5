package mqtt

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a small JSON reader over one payload. encoding/json costs
// several microseconds and allocations per reader event; the parsers need
// well under two, so they walk the bytes directly and only ever look at the
// few fields they use. The scanner validates everything it steps over, so a
// payload it accepts is valid JSON (FuzzImpinj etc. check that against
// encoding/json).
type scanner struct {
	buf []byte
	pos int
	// scratch holds unescaped strings. It is only appended to while one
	// event is decoded, so every slice handed out stays valid until reset.
	scratch []byte
}

// maxDepth bounds nesting so a hostile payload cannot exhaust the stack.
const maxDepth = 128

func (s *scanner) reset(b []byte) {
	s.buf = b
	s.pos = 0
	s.scratch = s.scratch[:0]
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrBadPayload, s.pos, fmt.Sprintf(format, args...))
}

func (s *scanner) unexpected(want string) error {
	if s.pos >= len(s.buf) {
		return s.errorf("unexpected end of payload, want %s", want)
	}
	return s.errorf("unexpected %q, want %s", s.buf[s.pos], want)
}

// ws skips JSON white space.
func (s *scanner) ws() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next byte (0 at the end) without consuming it.
func (s *scanner) peek() byte {
	if s.pos < len(s.buf) {
		return s.buf[s.pos]
	}
	return 0
}

// member steps to the n-th (0-based) member of an object whose '{' was
// consumed. It returns the key with the scanner at the member's value, or
// more=false once the closing '}' was consumed.
func (s *scanner) member(n int) (key []byte, more bool, err error) {
	s.ws()
	if s.pos >= len(s.buf) {
		return nil, false, s.unexpected("object member or '}'")
	}
	if s.buf[s.pos] == '}' {
		s.pos++
		return nil, false, nil
	}
	if n > 0 {
		if s.buf[s.pos] != ',' {
			return nil, false, s.unexpected("',' or '}'")
		}
		s.pos++
		s.ws()
	}
	if s.peek() != '"' {
		return nil, false, s.unexpected("a quoted object key")
	}
	if key, err = s.str(); err != nil {
		return nil, false, err
	}
	s.ws()
	if s.peek() != ':' {
		return nil, false, s.unexpected("':'")
	}
	s.pos++
	s.ws()
	return key, true, nil
}

// element steps to the n-th element of an array whose '[' was consumed, or
// returns more=false once the closing ']' was consumed.
func (s *scanner) element(n int) (more bool, err error) {
	s.ws()
	if s.pos >= len(s.buf) {
		return false, s.unexpected("array element or ']'")
	}
	if s.buf[s.pos] == ']' {
		s.pos++
		return false, nil
	}
	if n > 0 {
		if s.buf[s.pos] != ',' {
			return false, s.unexpected("',' or ']'")
		}
		s.pos++
		s.ws()
	}
	return true, nil
}

// str reads a string value (scanner at its opening quote) and returns its
// unescaped content. Without escapes it aliases the payload; with escapes
// it lives in s.scratch.
func (s *scanner) str() ([]byte, error) {
	start := s.pos + 1
	for i := start; i < len(s.buf); i++ {
		c := s.buf[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return s.buf[start:i], nil
		case c == '\\':
			return s.strEscaped(start, i)
		case c < 0x20:
			s.pos = i
			return nil, s.errorf("control character in string")
		}
	}
	s.pos = len(s.buf)
	return nil, s.unexpected("end of string")
}

func (s *scanner) strEscaped(start, i int) ([]byte, error) {
	from := len(s.scratch)
	s.scratch = append(s.scratch, s.buf[start:i]...)
	for i < len(s.buf) {
		c := s.buf[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return s.scratch[from:len(s.scratch):len(s.scratch)], nil
		case c < 0x20:
			s.pos = i
			return nil, s.errorf("control character in string")
		case c != '\\':
			s.scratch = append(s.scratch, c)
			i++
			continue
		}
		if i+1 >= len(s.buf) {
			break
		}
		switch e := s.buf[i+1]; e {
		case '"', '\\', '/':
			s.scratch = append(s.scratch, e)
		case 'b':
			s.scratch = append(s.scratch, '\b')
		case 'f':
			s.scratch = append(s.scratch, '\f')
		case 'n':
			s.scratch = append(s.scratch, '\n')
		case 'r':
			s.scratch = append(s.scratch, '\r')
		case 't':
			s.scratch = append(s.scratch, '\t')
		case 'u':
			r, ok := hex4(s.buf, i+2)
			if !ok {
				s.pos = i
				return nil, s.errorf("bad \\u escape")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s.buf, i+2); ok && i+1 < len(s.buf) && s.buf[i] == '\\' && s.buf[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						s.scratch = utf8.AppendRune(s.scratch, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			s.scratch = utf8.AppendRune(s.scratch, r)
			continue
		default:
			s.pos = i
			return nil, s.errorf("bad escape \\%c", e)
		}
		i += 2
	}
	s.pos = len(s.buf)
	return nil, s.unexpected("end of string")
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skipStr steps over a string, validating its escapes, without copying.
func (s *scanner) skipStr() error {
	for i := s.pos + 1; i < len(s.buf); i++ {
		c := s.buf[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return nil
		case c < 0x20:
			s.pos = i
			return s.errorf("control character in string")
		case c == '\\':
			if i+1 >= len(s.buf) {
				s.pos = len(s.buf)
				return s.unexpected("end of string")
			}
			switch s.buf[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if _, ok := hex4(s.buf, i+2); !ok {
					s.pos = i
					return s.errorf("bad \\u escape")
				}
				i += 5
			default:
				s.pos = i
				return s.errorf("bad escape")
			}
		}
	}
	s.pos = len(s.buf)
	return s.unexpected("end of string")
}

// number reads a JSON number literal and returns its bytes.
func (s *scanner) number() ([]byte, error) {
	b, i := s.buf, s.pos
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return nil, s.unexpected("a digit")
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.pos = i
			return nil, s.unexpected("a digit after '.'")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.pos = i
			return nil, s.unexpected("a digit in the exponent")
		}
	}
	s.pos = i
	return b[start:i], nil
}

// literal consumes true, false or null.
func (s *scanner) literal() error {
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(s.buf)-s.pos >= len(lit) && string(s.buf[s.pos:s.pos+len(lit)]) == lit {
			s.pos += len(lit)
			return nil
		}
	}
	return s.unexpected("a JSON value")
}

// null consumes a null if one is next and reports whether it did.
func (s *scanner) null() bool {
	if len(s.buf)-s.pos >= 4 && string(s.buf[s.pos:s.pos+4]) == "null" {
		s.pos += 4
		return true
	}
	return false
}

// skip steps over one value of any kind, validating it.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.errorf("nested deeper than %d", maxDepth)
	}
	switch c := s.peek(); {
	case c == '"':
		return s.skipStr()
	case c == '{':
		s.pos++
		for n := 0; ; n++ {
			_, more, err := s.member(n)
			if err != nil || !more {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	case c == '[':
		s.pos++
		for n := 0; ; n++ {
			more, err := s.element(n)
			if err != nil || !more {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := s.number()
		return err
	default:
		return s.literal()
	}
}

// kind names the JSON type of the next value, for error messages.
func (s *scanner) kind() string {
	switch c := s.peek(); {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	default:
		return "number"
	}
}

// parseInt converts a JSON number literal to an int; it must be integral.
func parseInt(b []byte) (int64, bool) {
	neg := false
	i := 0
	if len(b) > 0 && b[0] == '-' {
		neg = true
		i = 1
	}
	if i == len(b) || len(b)-i > 18 {
		f, ok := parseFloat(b)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, false
		}
		return int64(f), true
	}
	var n int64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			// 3.0 or 1e2: integral values written as floats are fine.
			f, ok := parseFloat(b)
			if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return 0, false
			}
			return int64(f), true
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat converts a JSON number literal. Short decimals (what readers
// send) take an exact fast path: a mantissa below 2^53 divided by an exact
// power of ten is correctly rounded. Everything else goes to strconv.
func parseFloat(b []byte) (float64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		i = 1
	}
	var mant uint64
	digits, frac := 0, 0
	dot := false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			digits = 99 // exponent or junk: slow path
		}
		if digits > 15 {
			break
		}
	}
	if digits > 0 && digits <= 15 && frac < len(pow10) {
		f := float64(mant) / pow10[frac]
		if neg {
			f = -f
		}
		return f, true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}
