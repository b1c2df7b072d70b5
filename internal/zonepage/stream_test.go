package zonepage

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// sseMsg is one server-sent event.
type sseMsg struct {
	event string
	data  string
}

// sseClient reads a stream into a channel until the body ends.
type sseClient struct {
	msgs   chan sseMsg
	resp   *http.Response
	cancel context.CancelFunc
}

func openStream(t *testing.T, url string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	c := &sseClient{msgs: make(chan sseMsg, 1024), resp: resp, cancel: cancel}
	t.Cleanup(c.close)
	if resp.StatusCode != 200 {
		return c
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	go func() {
		defer close(c.msgs)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		var m sseMsg
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.event != "" || m.data != "" {
					select {
					case c.msgs <- m:
					case <-ctx.Done():
						return
					}
				}
				m = sseMsg{}
			case strings.HasPrefix(line, "event: "):
				m.event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				if m.data != "" {
					t.Errorf("multi-line data: %q", line)
				}
				m.data = line[len("data: "):]
			}
		}
	}()
	return c
}

func (c *sseClient) close() {
	c.cancel()
	c.resp.Body.Close()
}

// next returns the next message of the given kind, skipping others.
func (c *sseClient) next(t *testing.T, event string, within time.Duration) sseMsg {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				t.Fatalf("stream ended waiting for %q", event)
			}
			if m.event == event {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q message within %v", event, within)
		}
	}
}

type streamSnapshot struct {
	Seq       uint64       `json:"seq"`
	Filter    string       `json:"filter"`
	TagsTotal int          `json:"tags_total"`
	TagsSent  int          `json:"tags_sent"`
	Readers   []ReaderView `json:"readers"`
	Zones     []struct {
		ID    string    `json:"id"`
		Total int       `json:"total"`
		More  int       `json:"more"`
		Tags  []ZoneTag `json:"tags"`
	} `json:"zones"`
	Uplink *UplinkView `json:"uplink"`
}

func parseSnap(t *testing.T, m sseMsg) streamSnapshot {
	t.Helper()
	var s streamSnapshot
	if err := json.Unmarshal([]byte(m.data), &s); err != nil {
		t.Fatalf("snapshot %q: %v", m.data, err)
	}
	return s
}

func zoneEPCs(s streamSnapshot, zone string) []string {
	var out []string
	for _, z := range s.Zones {
		if z.ID == zone {
			for _, t := range z.Tags {
				out = append(out, t.EPC)
			}
		}
	}
	return out
}

func TestStreamSendsSnapshotsAndNewEvents(t *testing.T) {
	m := newFakeModel()
	opts := quietOpts()
	opts.Interval = 20 * time.Millisecond
	srv := httptest.NewServer(Handler(m, opts))
	t.Cleanup(srv.Close) // after the streams' cleanups: Close waits for them
	c := openStream(t, srv.URL+"/api/stream")

	first := parseSnap(t, c.next(t, "snapshot", 5*time.Second))
	if len(first.Readers) != 2 || first.Readers[0].Connected || first.Uplink == nil || !first.Uplink.KafkaConnected {
		t.Errorf("first snapshot readers/uplink: %+v %+v", first.Readers, first.Uplink)
	}
	if got := zoneEPCs(first, "rack-A01"); len(got) != 2 {
		t.Errorf("rack-A01 = %v", got)
	}
	var evm eventsMessage
	if err := json.Unmarshal([]byte(c.next(t, "events", 5*time.Second).data), &evm); err != nil || !evm.Reset || len(evm.Events) != 1 {
		t.Fatalf("first events message: %+v %v", evm, err)
	}

	m.moveTag("E28011606000020D8F3A1B2C", "rack-A01", "rack-A02", 2)
	m.setConnected("dock-1", true)
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := parseSnap(t, c.next(t, "snapshot", 5*time.Second))
		if got := zoneEPCs(s, "rack-A02"); len(got) == 1 && got[0] == "E28011606000020D8F3A1B2C" && s.Readers[0].Connected {
			if s.Seq <= first.Seq {
				t.Errorf("seq did not grow: %d then %d", first.Seq, s.Seq)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the move never showed up")
		}
	}
	evm = eventsMessage{}
	if err := json.Unmarshal([]byte(c.next(t, "events", 5*time.Second).data), &evm); err != nil {
		t.Fatal(err)
	}
	if evm.Reset || len(evm.Events) != 1 || !strings.Contains(string(evm.Events[0]), `"id":"floor3-2"`) {
		t.Errorf("second events message should hold only the new event: reset=%v %s", evm.Reset, evm.Events)
	}
}

func TestStreamFilterAppliedServerSide(t *testing.T) {
	m := newFakeModel()
	srv := httptest.NewServer(Handler(m, quietOpts()))
	t.Cleanup(srv.Close) // after the streams' cleanups: Close waits for them
	c := openStream(t, srv.URL+"/api/stream?epc=beef")
	s := parseSnap(t, c.next(t, "snapshot", 5*time.Second))
	if s.Filter != "BEEF" || s.TagsTotal != 1 || len(zoneEPCs(s, "rack-A01")) != 1 || zoneEPCs(s, "rack-A01")[0] != "E2801160600002000000BEEF" {
		t.Errorf("filtered snapshot: %+v", s)
	}
	bad := openStream(t, srv.URL+"/api/stream?epc=zz")
	if bad.resp.StatusCode != 400 {
		t.Errorf("bad filter: %d", bad.resp.StatusCode)
	}
}

// Many clients share one snapshot per interval: the Model is called at most
// once per interval (per method) whatever the number of clients.
func TestStreamManyClientsBoundedModelCalls(t *testing.T) {
	m := newFakeModel()
	const interval = 50 * time.Millisecond
	const clients = 30
	opts := quietOpts()
	opts.Interval = interval
	opts.MaxStreams = clients
	srv := httptest.NewServer(Handler(m, opts))
	t.Cleanup(srv.Close) // after the streams' cleanups: Close waits for them

	start := time.Now()
	var wg sync.WaitGroup
	got := make([]int, clients)
	for i := range clients {
		c := openStream(t, srv.URL+"/api/stream")
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := time.After(1500 * time.Millisecond)
			for {
				select {
				case msg, ok := <-c.msgs:
					if !ok {
						return
					}
					if msg.event == "snapshot" {
						got[i]++
					}
				case <-timeout:
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	bound := int64(elapsed/interval) + 2
	if n := m.zonesCalls.Load(); n > bound {
		t.Errorf("%d clients for %v: Zones called %d times, want at most %d (one per %v)", clients, elapsed, n, bound, interval)
	}
	if r, z := m.readersCalls.Load(), m.zonesCalls.Load(); r != z {
		t.Errorf("readers %d zones %d: one snapshot takes one of each", r, z)
	}
	for i, n := range got {
		if n < 3 {
			t.Errorf("client %d got %d snapshots in %v; the stream is not live", i, n, elapsed)
		}
	}
	t.Logf("%d clients, %v: %d snapshots (Zones calls), %v snapshots per client", clients, elapsed.Round(time.Millisecond), m.zonesCalls.Load(), got)
}

func TestStreamPayloadCappedWith10000Tags(t *testing.T) {
	m := newFakeModel()
	m.zones = manyTags(10_000, 40)
	opts := quietOpts()
	srv := httptest.NewServer(Handler(m, opts))
	t.Cleanup(srv.Close) // after the streams' cleanups: Close waits for them
	c := openStream(t, srv.URL+"/api/stream")
	msg := c.next(t, "snapshot", 5*time.Second)
	s := parseSnap(t, msg)
	if s.TagsTotal != 10_000 || s.TagsSent != 600 {
		t.Errorf("tags total %d sent %d, want 10000 and 600 (MaxTags)", s.TagsTotal, s.TagsSent)
	}
	more := 0
	for _, z := range s.Zones {
		if len(z.Tags) > 25 {
			t.Errorf("zone %s: %d tags sent, cap 25", z.ID, len(z.Tags))
		}
		more += z.More
	}
	if more != 10_000-600 {
		t.Errorf("more counts sum to %d, want %d", more, 10_000-600)
	}
	const maxBytes = 100 << 10
	if len(msg.data) > maxBytes {
		t.Errorf("snapshot payload %d bytes, want at most %d", len(msg.data), maxBytes)
	}
	t.Logf("10,000 tags in 40 zones: snapshot %d bytes", len(msg.data))

	// The filter works on all tags, not on the capped ones.
	f := openStream(t, srv.URL+"/api/stream?epc="+fmt.Sprintf("%08X", 9_999))
	fs := parseSnap(t, f.next(t, "snapshot", 5*time.Second))
	if fs.TagsTotal != 1 || fs.TagsSent != 1 {
		t.Errorf("filter for the last tag: total %d sent %d", fs.TagsTotal, fs.TagsSent)
	}
}

func TestStreamLimitAndDone(t *testing.T) {
	m := newFakeModel()
	done := make(chan struct{})
	opts := quietOpts()
	opts.MaxStreams = 2
	opts.Done = done
	srv := httptest.NewServer(Handler(m, opts))
	t.Cleanup(srv.Close) // after the streams' cleanups: Close waits for them
	a := openStream(t, srv.URL+"/api/stream")
	b := openStream(t, srv.URL+"/api/stream")
	a.next(t, "snapshot", 5*time.Second)
	b.next(t, "snapshot", 5*time.Second)
	third := openStream(t, srv.URL+"/api/stream")
	if third.resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("third stream: %d, want 503", third.resp.StatusCode)
	}
	close(done)
	for _, c := range []*sseClient{a, b} {
		timeout := time.After(5 * time.Second)
	drain:
		for {
			select {
			case _, ok := <-c.msgs:
				if !ok {
					break drain
				}
			case <-timeout:
				t.Fatal("stream still open after Done was closed")
			}
		}
	}
	// Slots are given back.
	c := openStream(t, srv.URL+"/api/stream")
	if c.resp.StatusCode != 200 {
		t.Errorf("after Done the slots are free again: %d", c.resp.StatusCode)
	}
}
