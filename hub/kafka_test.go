package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cluster3 starts a 3-broker kfake cluster with the events and status topics
// (12 partitions).
func cluster3(t testing.TB) []string {
	t.Helper()
	ports := []int{freePort(t), freePort(t), freePort(t)}
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.Ports(ports...), kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(12), kfake.SeedTopics(12, DefaultTopic, DefaultStatusTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

type producer struct {
	t  testing.TB
	cl *kgo.Client
}

func newProducer(t testing.TB, brokers []string) *producer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &producer{t, cl}
}

func (p *producer) send(topic, key string, value []byte) {
	p.t.Helper()
	if err := p.cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: value}).FirstErr(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *producer) event(e *Event) {
	p.t.Helper()
	loc := func(l *Location) string {
		if l == nil {
			return "null"
		}
		b, _ := json.Marshal(l)
		return string(b)
	}
	v := fmt.Sprintf(`{"schema":1,"id":"%s-%s-%d","epoch":"%s","seq":%d,"gateway":"%s","type":"%s","epc":"%s","time":"%s","zone":"%s","from":%s,"to":%s,"evidence":null}`,
		e.Gateway, e.Epoch, e.Seq, e.Epoch, e.Seq, e.Gateway, e.Type, *e.EPC, e.Time, *e.Zone, loc(e.From), loc(e.To))
	p.send(DefaultTopic, *e.EPC, []byte(v))
}

func (p *producer) status(gw, epoch string, last uint64) {
	b, _ := json.Marshal(map[string]any{"schema": 1, "gateway": gw, "time": time.Now().UTC(), "kind": "heartbeat",
		"readers": map[string]string{"r1": "online"}, "buffer_events": 0, "buffer_bytes": 0, "lag_seconds": 0,
		"events_dropped": 0, "uplink_connected": true, "epoch": epoch, "epoch_first_seq": 1, "last_seq": last, "oldest_seq": 0})
	p.send(DefaultStatusTopic, gw, b)
}

// startHub runs a hub instance; stop ends it and waits (safe to call twice).
func startHub(t *testing.T, brokers []string, instance string) (stop func(), h *Hub) {
	t.Helper()
	cfg := Default()
	cfg.Brokers = brokers
	cfg.Listen = "127.0.0.1:0"
	cfg.Instance = instance
	cfg.FlushInterval = Duration(100 * time.Millisecond)
	h, err := New(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.Run(ctx); err != nil {
			t.Errorf("hub %s: %v", instance, err)
		}
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop, h
}

func getJSON(url string, v any) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(v)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
}

// TestHubTwoInstances: two hub instances in one group on a 3-broker,
// 12-partition cluster share the asset view; each answers for every EPC
// (through the locations topic); after one is stopped, the other takes its
// partitions and its state, and the answers stay right. Duplicates never
// reach the timeline; a bad message goes to the DLQ with its headers.
func TestHubTwoInstances(t *testing.T) {
	brokers := cluster3(t)
	p := newProducer(t, brokers)
	const ep3, ep4 = "0000000300000003", "0000000400000004"
	seq := map[string]uint64{}
	send := func(gw, ep, epc, typ, at string, from, to *Location) {
		seq[gw]++
		zone := ""
		if to != nil {
			zone = to.Zone
		} else if from != nil {
			zone = from.Zone
		}
		e := &Event{Gateway: gw, Epoch: ep, Seq: seq[gw], Type: typ, EPC: &epc, Time: at, Zone: &zone, From: from, To: to}
		p.event(e)
		if seq[gw]%5 == 0 { // a redelivery
			p.event(e)
		}
	}
	rack := func(gw string, i int) *Location {
		return &Location{Zone: fmt.Sprintf("%s-rack%d", gw, i), Floor: gw, Room: "r", Row: "a", Rack: strconv.Itoa(i)}
	}
	epcs := make([]string, 40)
	for i := range epcs {
		epcs[i] = fmt.Sprintf("E2800000000000000000%04X", i)
		send("floor3", ep3, epcs[i], "rack_move", "2026-11-25T10:00:00.000Z", nil, rack("floor3", i%4))
	}
	_, h1 := startHub(t, brokers, "a")
	stop2, h2 := startHub(t, brokers, "b")
	// Half the assets move to floor4 (cross-floor), the rest within floor3.
	for i, epc := range epcs {
		if i%2 == 0 {
			send("floor3", ep3, epc, "rack_depart", "2026-11-25T10:05:00.000Z", rack("floor3", i%4), nil)
			send("floor4", ep4, epc, "rack_move", "2026-11-25T10:08:00.000Z", nil, rack("floor4", i%3))
		} else {
			send("floor3", ep3, epc, "rack_move", "2026-11-25T10:06:00.000Z", rack("floor3", i%4), rack("floor3", 9))
		}
	}
	p.send(DefaultTopic, "BAD", []byte(`{"schema":7}`))
	p.status("floor3", ep3, seq["floor3"])
	p.status("floor4", ep4, seq["floor4"])

	check := func(h *Hub, name string) func() bool {
		return func() bool {
			for i, epc := range epcs {
				var a AssetJSON
				if code, err := getJSON("http://"+h.Addr()+"/assets/"+epc, &a); err != nil || code != 200 || a.Location == nil {
					return false
				}
				want := "floor3-rack9"
				if i%2 == 0 {
					want = fmt.Sprintf("floor4-rack%d", i%3)
					if len(a.History) != 2 || a.History[1].Type != MoveCrossFloor {
						return false
					}
				}
				if a.Location.Zone != want {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, 60*time.Second, "both instances answer for every asset", func() bool { return check(h1, "a")() && check(h2, "b")() })
	waitFor(t, 30*time.Second, "the audit of both instances", func() bool {
		for _, h := range []*Hub{h1, h2} {
			tot := h.Audit().Totals()
			if tot.Delivered != seq["floor3"]+seq["floor4"] || tot.Duplicates == 0 || tot.Missing != 0 {
				return false
			}
		}
		return true
	})
	// The group's rebalance may still be under way when both already answer
	// (the second instance can answer from the locations topic): wait for it.
	split := func() bool {
		a1, a2 := h1.assigned.Load(), h2.assigned.Load()
		return a1+a2 == 12 && a1 > 0 && a2 > 0
	}
	deadline := time.Now().Add(30 * time.Second)
	for !split() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if a1, a2 := h1.assigned.Load(), h2.assigned.Load(); !split() {
		t.Errorf("partitions assigned %d + %d, want 12 split between both", a1, a2)
	}
	var gws []GatewayReport
	if _, err := getJSON("http://"+h1.Addr()+"/gateways", &gws); err != nil || len(gws) != 2 || gws[0].Missing != 0 || gws[0].HolesOpen != 0 {
		t.Fatalf("/gateways %+v %v", gws, err)
	}
	var missing AssetJSON
	if code, _ := getJSON("http://"+h1.Addr()+"/assets/ABCDEF", &missing); code != 404 {
		t.Errorf("unknown EPC: %d, want 404", code)
	}

	// Stop instance b: a takes over its partitions; new moves still land.
	stop2()
	for i, epc := range epcs {
		if i%2 == 1 {
			send("floor3", ep3, epc, "rack_move", "2026-11-25T10:20:00.000Z", rack("floor3", 9), rack("floor3", 7))
		}
	}
	waitFor(t, 60*time.Second, "instance a took over", func() bool {
		for i, epc := range epcs {
			var a AssetJSON
			if _, err := getJSON("http://"+h1.Addr()+"/assets/"+epc, &a); err != nil || a.Location == nil {
				return false
			}
			if i%2 == 1 && (a.Location.Zone != "floor3-rack7" || len(a.History) != 3) {
				return false
			}
		}
		return h1.assigned.Load() == 12
	})
	if s := h1.View().Stats(); s.Regressions != 0 {
		t.Errorf("order regressions %d", s.Regressions)
	}

	// The DLQ holds the bad message with reason, partition and offset.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(DefaultDLQTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fs := cl.PollFetches(ctx)
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Value) != `{"schema":7}` {
		t.Fatalf("DLQ records %v (%v)", recs, fs.Errors())
	}
	hdr := map[string]string{}
	for _, h := range recs[0].Headers {
		hdr[h.Key] = string(h.Value)
	}
	if hdr[HeaderDLQReason] == "" || hdr[HeaderDLQPartition] == "" || hdr[HeaderDLQOffset] == "" || hdr[HeaderDLQTopic] != DefaultTopic {
		t.Fatalf("DLQ headers %v", hdr)
	}
}
