package mqtt

import (
	"errors"
	"time"
)

var errTime = errors.New("want an ISO 8601 time like 2026-11-25T10:00:00.123Z or +0000")

// parseISOTime parses the timestamps readers send and returns UTC:
// YYYY-MM-DDTHH:MM:SS, an optional fraction of up to 9 digits (more are
// truncated), then Z, ±HH:MM, ±HHMM or ±HH. It takes both RFC 3339 (Impinj)
// and Zebra's colon-less offsets (2026-11-25T10:00:00.123+0000), which
// time.RFC3339 rejects, and is several times faster than time.Parse.
func parseISOTime(b []byte) (time.Time, error) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, errTime
	}
	year, ok1 := digitsN(b[0:4])
	month, ok2 := digitsN(b[5:7])
	day, ok3 := digitsN(b[8:10])
	hour, ok4 := digitsN(b[11:13])
	minute, ok5 := digitsN(b[14:16])
	sec, ok6 := digitsN(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, errTime
	}
	i := 19
	nsec := 0
	if b[i] == '.' || b[i] == ',' {
		i++
		start := i
		scale := 100000000
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			nsec += int(b[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return time.Time{}, errTime
		}
	}
	if i >= len(b) {
		return time.Time{}, errTime // a time without zone is ambiguous
	}
	offset := 0
	switch rest := b[i:]; rest[0] {
	case 'Z', 'z':
		if len(rest) != 1 {
			return time.Time{}, errTime
		}
	case '+', '-':
		var oh, om int
		var ok bool
		switch {
		case len(rest) == 6 && rest[3] == ':': // +01:00
			oh, ok = digitsN(rest[1:3])
			if m, okm := digitsN(rest[4:6]); ok && okm {
				om = m
			} else {
				ok = false
			}
		case len(rest) == 5: // +0100
			oh, ok = digitsN(rest[1:3])
			if m, okm := digitsN(rest[3:5]); ok && okm {
				om = m
			} else {
				ok = false
			}
		case len(rest) == 3: // +01
			oh, ok = digitsN(rest[1:3])
		}
		if !ok || oh > 23 || om > 59 {
			return time.Time{}, errTime
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, errTime
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return t, nil
}

func digitsN(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
