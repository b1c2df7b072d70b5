package sdnotify

import (
	"testing"
	"time"
)

func TestStatusLine(t *testing.T) {
	cases := []struct {
		readers map[string]bool
		events  int64
		lag     time.Duration
		want    string
	}{
		{nil, 0, 0, "readers 0/0 online, buffer 0 events, lag 0s"},
		{map[string]bool{"dock-1": true, "rack-a": true}, 12, 1400 * time.Millisecond,
			"readers 2/2 online, buffer 12 events, lag 1s"},
		{map[string]bool{"dock-1": true, "rack-b": false, "rack-a": false}, 120, 2 * time.Second,
			"readers 1/3 online (offline: rack-a, rack-b), buffer 120 events, lag 2s"},
		{map[string]bool{"e": false, "d": false, "c": false, "b": false, "a": false}, 5, 90 * time.Minute,
			"readers 0/5 online (offline: a, b, c +2 more), buffer 5 events, lag 1h30m0s"},
		{map[string]bool{"x": true}, 0, -time.Second, "readers 1/1 online, buffer 0 events, lag 0s"},
	}
	for _, c := range cases {
		if got := StatusLine(c.readers, c.events, c.lag); got != c.want {
			t.Errorf("StatusLine(%v, %d, %v)\n got %q\nwant %q", c.readers, c.events, c.lag, got, c.want)
		}
	}
}
