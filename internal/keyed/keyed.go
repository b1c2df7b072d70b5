// Package keyed owns the one shape of a configuration problem: a key path
// and what is wrong with it ("readers[2].baud: unknown key for type llrp"),
// and the strict decoding of a YAML map into a settings struct that
// reports every bad key that way. The gateway config, the reader types and
// the sim scenarios all use it, so every config error reads the same.
package keyed

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

// Error is one problem with one key. Key is a path such as
// "readers[2].tls.ca", relative to whatever the caller decoded; In adds the
// part in front.
type Error struct {
	Key string
	Msg string
	// Line is the line of the file the key is on, when the caller knows
	// it (0 otherwise); List and the config's Problems print it.
	Line int
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}

// Errorf returns an *Error for key.
func Errorf(key, format string, args ...any) error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Join returns prefix.key for a relative key ("" stays prefix).
func Join(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	case strings.HasPrefix(key, "["):
		return prefix + key
	}
	return prefix + "." + key
}

// In puts prefix in front of the key of every problem in errs; an error
// that is not an *Error becomes a problem of prefix itself.
func In(prefix string, errs []error) []error {
	out := make([]error, 0, len(errs))
	for _, err := range errs {
		var ke *Error
		if errors.As(err, &ke) {
			out = append(out, &Error{Key: Join(prefix, ke.Key), Msg: ke.Msg})
			continue
		}
		out = append(out, &Error{Key: prefix, Msg: err.Error()})
	}
	return out
}

// Parse turns a "key.path: message" line into an *Error (key empty when the
// line has no key path).
func Parse(line string) *Error {
	key, msg, ok := strings.Cut(line, ": ")
	if !ok || strings.ContainsAny(key, " \"'") {
		return &Error{Msg: line}
	}
	return &Error{Key: key, Msg: msg}
}

// Lines splits err into one *Error per problem: an *Error (or an error
// carrying one, see Tag) is one problem; a joined error is split into its
// parts; any other text one problem per line, "key.path: message" parsed.
func Lines(err error) []error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		return []error{e}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok && strings.Contains(err.Error(), "\n") {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Lines(e)...)
		}
		return out
	}
	var ke *Error
	if errors.As(err, &ke) {
		return []error{ke}
	}
	var out []error
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, Parse(line))
		}
	}
	return out
}

// Decoder decodes strictly: a key the target struct lacks is an error.
type Decoder struct {
	// Unknown is the message for an unknown key (default "unknown key").
	Unknown string
	// Hooks run before the default ones (durations, comma lists).
	Hooks []mapstructure.DecodeHookFunc
}

// Decode decodes in (a map from YAML) onto out (a pointer to a struct that
// already holds its defaults) and returns one *Error per bad key, sorted by
// key path.
func (d Decoder) Decode(in any, out any) []error {
	hooks := append(append([]mapstructure.DecodeHookFunc{}, d.Hooks...), DurationHook(), mapstructure.StringToSliceHookFunc(","))
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:  mapstructure.ComposeDecodeHookFunc(hooks...),
		ErrorUnused: true,
		Result:      out,
	})
	if err != nil {
		return []error{err}
	}
	if err := dec.Decode(in); err != nil {
		return d.Problems(err)
	}
	return nil
}

// DurationHook parses "500ms", "5s", "2m" with a message that says how.
// A number without a unit is refused (YAML's `60` would otherwise be 60
// nanoseconds): the message names the value with a unit to write instead.
// A bare 0 is 0.
func DurationHook() mapstructure.DecodeHookFuncType {
	target := reflect.TypeOf(time.Duration(0))
	return func(from, to reflect.Type, data any) (any, error) {
		if to != target {
			return data, nil
		}
		switch v := data.(type) {
		case string:
			d, err := time.ParseDuration(v)
			if err == nil {
				return d, nil
			}
			if n, nerr := strconv.ParseFloat(strings.TrimSpace(v), 64); nerr == nil {
				if n == 0 {
					return time.Duration(0), nil
				}
				return nil, noUnit(strconv.FormatFloat(n, 'f', -1, 64))
			}
			return nil, fmt.Errorf("invalid duration %q (use e.g. 500ms, 5s, 2m)", v)
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
			n := reflect.ValueOf(v).Convert(reflect.TypeOf(float64(0))).Float()
			if n == 0 {
				return time.Duration(0), nil
			}
			return nil, noUnit(strconv.FormatFloat(n, 'f', -1, 64))
		}
		return data, nil
	}
}

// noUnit is the problem of a duration given as a bare number.
func noUnit(n string) error {
	return fmt.Errorf("%s has no unit: write %ss for %s seconds (units: ms, s, m, h)", n, n, n)
}

var (
	invalidKeysRe = regexp.MustCompile(`'([^']*)' has invalid keys: (.*)$`)
	quotedKeyRe   = regexp.MustCompile(`^'([^']*)' (.*)$`)
)

// Problems turns mapstructure's joined errors (from Decode or from viper's
// UnmarshalExact) into one *Error per key, sorted.
func (d Decoder) Problems(err error) []error {
	unknown := d.Unknown
	if unknown == "" {
		unknown = "unknown key"
	}
	var out []*Error
	for _, raw := range strings.Split(err.Error(), "\n") {
		line := strings.TrimSpace(raw)
		line = strings.TrimPrefix(line, "* ")
		if line == "" || strings.HasPrefix(line, "decoding failed") || strings.HasSuffix(line, "error(s) decoding:") {
			continue
		}
		if m := invalidKeysRe.FindStringSubmatch(line); m != nil {
			for _, k := range strings.Split(m[2], ",") {
				k = strings.TrimSpace(k)
				path := k
				if m[1] != "" && !strings.HasPrefix(k, m[1]) {
					path = Join(m[1], k)
				}
				out = append(out, &Error{Key: path, Msg: unknown})
			}
			continue
		}
		if m := quotedKeyRe.FindStringSubmatch(line); m != nil {
			out = append(out, &Error{Key: m[1], Msg: m[2]})
			continue
		}
		out = append(out, &Error{Msg: line})
	}
	if len(out) == 0 {
		out = append(out, &Error{Msg: err.Error()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Error() < out[j].Error() })
	errs := make([]error, len(out))
	for i, e := range out {
		errs[i] = e
	}
	return errs
}

// List is the problems of one file. Its Error prints one per line as
// "file: key.path: message".
type List struct {
	File  string
	Items []error
}

func (l *List) Error() string {
	var b strings.Builder
	for i, it := range l.Items {
		if i > 0 {
			b.WriteByte('\n')
		}
		if l.File != "" {
			b.WriteString(l.File)
			var ke *Error
			if errors.As(it, &ke) && ke.Line > 0 {
				b.WriteString(":" + strconv.Itoa(ke.Line))
			}
			b.WriteString(": ")
		}
		b.WriteString(it.Error())
	}
	return b.String()
}

// Unwrap returns the problems.
func (l *List) Unwrap() []error { return l.Items }

// Tag attaches the problem key: msg to err without changing err's text
// (which may name the reader and its sentinel for logs). errors.As finds
// the *Error, so a config check can print "readers[2].key: msg".
func Tag(err error, key, format string, args ...any) error {
	return &tagged{err: err, ke: &Error{Key: key, Msg: fmt.Sprintf(format, args...)}}
}

type tagged struct {
	err error
	ke  *Error
}

func (t *tagged) Error() string   { return t.err.Error() }
func (t *tagged) Unwrap() []error { return []error{t.err, t.ke} }
