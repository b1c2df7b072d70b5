package keyed

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDecodeNamesEveryBadKey(t *testing.T) {
	var out struct {
		Every time.Duration `mapstructure:"every"`
		TLS   *struct {
			CA string `mapstructure:"ca"`
		} `mapstructure:"tls"`
	}
	errs := Decoder{Unknown: "unknown key for type x"}.Decode(map[string]any{
		"every": "5x", "baud": 1, "tls": map[string]any{"ca": "a", "cax": "b"},
	}, &out)
	var got []string
	for _, e := range errs {
		var ke *Error
		if !errors.As(e, &ke) {
			t.Fatalf("%v is not an *Error", e)
		}
		got = append(got, ke.Error())
	}
	want := []string{`baud: unknown key for type x`, `every: invalid duration "5x" (use e.g. 500ms, 5s, 2m)`, `tls.cax: unknown key for type x`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestInAndTag(t *testing.T) {
	sentinel := errors.New("bad reader config")
	tagged := Tag(fmt.Errorf("%w: reader %q: keepalive 1ms is below 100ms", sentinel, "r"), "keepalive", "1ms is below %v", "100ms")
	if !errors.Is(tagged, sentinel) || !strings.Contains(tagged.Error(), `reader "r"`) {
		t.Fatalf("Tag changed the error: %v", tagged)
	}
	errs := In("readers[2]", []error{tagged, errors.New("no key here"), Errorf("tls.ca", "missing")})
	want := []string{"readers[2].keepalive: 1ms is below 100ms", "readers[2]: no key here", "readers[2].tls.ca: missing"}
	for i, e := range errs {
		if e.Error() != want[i] {
			t.Errorf("In: %q, want %q", e.Error(), want[i])
		}
	}
	l := &List{File: "s.yaml", Items: errs}
	if got := strings.Count(l.Error(), "s.yaml: readers[2]"); got != 3 {
		t.Errorf("List prints %q", l.Error())
	}
}
