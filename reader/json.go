package reader

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is the time format of reads: UTC with microseconds.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// ErrBadRead is wrapped by every ParseRead error.
var ErrBadRead = errors.New("bad read")

// AppendJSON appends r as one JSON object (docs/zones.md, "The reads format"), without a newline.
func (r *Read) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"time":"`...)
	dst = r.Time.UTC().AppendFormat(dst, TimeLayout)
	dst = append(dst, `","reader":`...)
	dst = strconv.AppendQuote(dst, r.Reader)
	if r.Status != "" {
		if r.Antenna > 0 { // one antenna's connection, not the reader's
			dst = append(dst, `,"antenna":`...)
			dst = strconv.AppendInt(dst, int64(r.Antenna), 10)
		}
		dst = append(dst, `,"status":`...)
		dst = strconv.AppendQuote(dst, string(r.Status))
		return append(dst, '}')
	}
	dst = append(dst, `,"antenna":`...)
	dst = strconv.AppendInt(dst, int64(r.Antenna), 10)
	dst = append(dst, `,"epc":"`...)
	dst = append(dst, r.EPC...)
	dst = append(dst, `","rssi":`...)
	dst = strconv.AppendFloat(dst, r.RSSI, 'f', -1, 64)
	return append(dst, '}')
}

type readJSON struct {
	Time    string   `json:"time"`
	Reader  string   `json:"reader"`
	Antenna int      `json:"antenna"`
	EPC     string   `json:"epc"`
	RSSI    *float64 `json:"rssi"`
	Status  string   `json:"status"`
}

// ParseRead decodes one JSON line of the reads format (docs/zones.md). The EPC is normalised to
// upper-case hex; a line without epc must carry a status.
func ParseRead(line []byte) (Read, error) {
	var j readJSON
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Read{}, fmt.Errorf("%w: %v", ErrBadRead, err)
	}
	t, err := ParseTime(j.Time)
	if err != nil {
		return Read{}, fmt.Errorf("%w: time %q: %v", ErrBadRead, j.Time, err)
	}
	if j.Reader == "" {
		return Read{}, fmt.Errorf("%w: missing reader", ErrBadRead)
	}
	r := Read{Time: t, Reader: j.Reader, Antenna: j.Antenna}
	if j.EPC == "" {
		switch Status(j.Status) {
		case StatusOnline, StatusOffline:
			r.Status = Status(j.Status)
			return r, nil
		case "":
			return Read{}, fmt.Errorf("%w: neither epc nor status", ErrBadRead)
		default:
			return Read{}, fmt.Errorf("%w: status %q is not online or offline", ErrBadRead, j.Status)
		}
	}
	epc, err := NormalizeEPC(j.EPC)
	if err != nil {
		return Read{}, fmt.Errorf("%w: %v", ErrBadRead, err)
	}
	r.EPC = epc
	if j.RSSI != nil {
		r.RSSI = *j.RSSI
	}
	return r, nil
}

// ParseTime accepts RFC 3339 with or without fractional seconds and returns UTC.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// NormalizeEPC checks that s is hex with an even number of digits and returns
// it in upper case.
func NormalizeEPC(s string) (string, error) {
	if len(s) == 0 || len(s)%2 != 0 {
		return "", fmt.Errorf("epc %q: want an even number of hex digits", s)
	}
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'F':
		case c >= 'a' && c <= 'f':
			upper = false
		default:
			return "", fmt.Errorf("epc %q: not hex", s)
		}
	}
	if upper {
		return s, nil
	}
	return strings.ToUpper(s), nil
}

// HexEPC encodes raw EPC bytes as upper-case hex (one allocation).
func HexEPC(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, len(b)*2)
	for i, c := range b {
		out[i*2] = digits[c>>4]
		out[i*2+1] = digits[c&0xF]
	}
	return string(out)
}

// MaxReadLine is the longest reads-file line ScanReads parses; a longer one
// is reported to fn as a bad read (with its line number) and skipped.
const MaxReadLine = 1 << 20

// ScanReads parses the reads JSON-lines in r (docs/zones.md) and calls fn for
// each non-empty line with its 1-based number and the read, or the reason it
// is not one (a line over MaxReadLine is such a reason: the rest of the file
// is still read). It returns fn's first error, or a read error naming the
// line.
func ScanReads(r io.Reader, fn func(line int, rd Read, err error) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	line := 0
	for {
		chunk, err := br.ReadSlice('\n')
		long := false
		buf = append(buf[:0], chunk...)
		for err == bufio.ErrBufferFull {
			if len(buf) <= MaxReadLine {
				chunk, err = br.ReadSlice('\n')
				buf = append(buf, chunk...)
				continue
			}
			long = true // skip to the end of the line without keeping it
			buf = buf[:0]
			_, err = br.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("line %d: %w", line+1, err)
		}
		if len(buf) > 0 || long {
			line++
			text := bytes.TrimRight(buf, "\r\n")
			var rd Read
			var perr error
			switch {
			case long || len(text) > MaxReadLine:
				perr = fmt.Errorf("%w: line longer than %d bytes, skipped", ErrBadRead, MaxReadLine)
			case len(text) == 0:
				perr = nil
			default:
				rd, perr = ParseRead(text)
			}
			if long || len(text) > 0 {
				if ferr := fn(line, rd, perr); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}
