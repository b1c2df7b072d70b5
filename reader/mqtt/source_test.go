package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	dto "github.com/prometheus/client_model/go"

	"github.com/rfidgw/rfidgw/internal/metrics"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/mqtt"
	"github.com/rfidgw/rfidgw/reader/mqtt/mqttsim"
)

// waitLimit is how long a test waits for something that should happen
// promptly before it fails; it is a deadline, not a speed assert.
const waitLimit = 20 * time.Second

// collector is a Sink that keeps everything delivered.
type collector struct {
	mu    sync.Mutex
	reads []reader.Read
	calls int
	wake  chan struct{}
}

func newCollector() *collector { return &collector{wake: make(chan struct{}, 1)} }

func (c *collector) Deliver(_ context.Context, reads []reader.Read) error {
	c.mu.Lock()
	c.reads = append(c.reads, reads...)
	c.calls++
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) snapshot() []reader.Read {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]reader.Read(nil), c.reads...)
}

// waitFor waits until cond holds for the reads so far.
func (c *collector) waitFor(t *testing.T, what string, cond func([]reader.Read) bool) []reader.Read {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		rs := c.snapshot()
		if cond(rs) {
			return rs
		}
		select {
		case <-c.wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; have %d reads: %s", what, len(rs), summarize(rs))
		}
	}
}

func tagReads(rs []reader.Read) []reader.Read {
	var out []reader.Read
	for _, r := range rs {
		if !r.IsStatus() {
			out = append(out, r)
		}
	}
	return out
}

func statuses(rs []reader.Read, id string) []reader.Status {
	var out []reader.Status
	for _, r := range rs {
		if r.IsStatus() && r.Reader == id {
			out = append(out, r.Status)
		}
	}
	return out
}

func summarize(rs []reader.Read) string {
	var b strings.Builder
	for i, r := range rs {
		if i == 20 {
			fmt.Fprintf(&b, " …(%d more)", len(rs)-20)
			break
		}
		b.Write(r.AppendJSON(nil))
		b.WriteByte(' ')
	}
	return b.String()
}

func nTags(n int) func([]reader.Read) bool {
	return func(rs []reader.Read) bool { return len(tagReads(rs)) >= n }
}

// runSource runs src until the test ends. stop cancels Run and returns
// its error; exited is closed when Run returned by itself or was stopped.
func runSource(t *testing.T, src *mqtt.Source, sink reader.Sink) (stop func() error, exited <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() { err = src.Run(ctx, sink); close(done) }()
	stop = func() error {
		cancel()
		select {
		case <-done:
			return err
		case <-time.After(waitLimit):
			return errors.New("Run did not return after cancel")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop, done
}

// testMetrics receives the metrics of the sources newSource builds.
var testMetrics = metrics.New()

func newSource(t *testing.T, cfg reader.Config) *mqtt.Source {
	t.Helper()
	if cfg.Type == "" {
		cfg.Type = reader.TypeMQTT
	}
	src, err := mqtt.New(cfg, reader.Env{Metrics: testMetrics.Readers()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return src
}

// publish sends payloads with QoS 1 from a plain paho client and waits for
// the broker's PUBACKs.
func publish(t *testing.T, broker, topic string, payloads ...string) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("test-pub-%d", time.Now().UnixNano()))
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("test publisher connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	for _, p := range payloads {
		if tok := c.Publish(topic, 1, false, p); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
}

func counterValue(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestFormatsThroughBroker(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	events := map[string]func(i int) string{
		mqtt.FormatImpinj: func(i int) string {
			return fmt.Sprintf(`{"timestamp":"2026-11-25T10:00:0%d.123456Z","hostname":"r700","eventType":"tagInventory","tagInventoryEvent":{"epc":"%s","antennaPort":%d,"peakRssiCdbm":-52%d0}}`,
				i, []string{"AAAAAAAAAAAAAAAA", "ERERERERERERERER", "IiIiIiIiIiIiIiIi"}[i], i+1, i)
		},
		mqtt.FormatZebra: func(i int) string {
			return fmt.Sprintf(`{"type":"SIMPLE","timestamp":"2026-11-25T11:00:0%d.123+0100","data":{"eventNum":%d,"format":"epc","idHex":"%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d","antenna":%d,"peakRssi":-52.%d}}`,
				i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i+1, i)
		},
		mqtt.FormatJSON: func(i int) string {
			return fmt.Sprintf(`{"time":"2026-11-25T10:00:0%d.123456Z","antenna":%d,"epc":"%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d","rssi":-52.%d}`,
				i, i+1, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i)
		},
	}
	for format, ev := range events {
		t.Run(format, func(t *testing.T) {
			sink := newCollector()
			src := newSource(t, reader.Config{
				ID:       "gw-" + format,
				Provides: []string{"single", "array", "concat"},
				Settings: &mqtt.Settings{Broker: b.URL, ReaderClock: "trust", // recorded payloads of 2026-11-25
					Topic:           "t/" + format + "/+",
					Format:          format,
					ReaderFromTopic: 3,
				},
			})
			stop, _ := runSource(t, src, sink)
			// Run reports the readers online once it is subscribed.
			sink.waitFor(t, "online", func(rs []reader.Read) bool { return len(statuses(rs, "concat")) > 0 })
			publish(t, b.URL, "t/"+format+"/single", ev(0))
			publish(t, b.URL, "t/"+format+"/array", "["+ev(1)+",\n"+ev(2)+"]")
			publish(t, b.URL, "t/"+format+"/concat", ev(0)+ev(1)+"\n"+ev(2))
			rs := tagReads(sink.waitFor(t, "6 reads", nTags(6)))
			if len(rs) != 6 {
				t.Fatalf("got %d reads, want 6: %s", len(rs), summarize(rs))
			}
			wantReader := []string{"single", "array", "array", "concat", "concat", "concat"}
			wantI := []int{0, 1, 2, 0, 1, 2}
			for k, r := range rs {
				i := wantI[k]
				want := reader.Read{
					Time:    time.Date(2026, 11, 25, 10, 0, i, 123456000, time.UTC),
					Reader:  wantReader[k],
					Antenna: i + 1,
					EPC:     strings.Repeat(fmt.Sprint(i), 24),
					RSSI:    -52 - float64(i)/10,
				}
				switch format {
				case mqtt.FormatImpinj:
					want.EPC = strings.Repeat([]string{"00", "11", "22"}[i], 12)
				case mqtt.FormatZebra:
					want.Time = want.Time.Truncate(time.Millisecond)
				}
				if r != want {
					t.Errorf("read %d: got  %+v\nwant %+v", k, r, want)
				}
			}
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

func TestPublisherRoundTrip(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	for _, format := range []string{mqtt.FormatImpinj, mqtt.FormatZebra} {
		t.Run(format, func(t *testing.T) {
			sink := newCollector()
			src := newSource(t, reader.Config{
				ID:       "sim-" + format,
				Provides: []string{"dock-2"},
				Settings: &mqtt.Settings{Broker: b.URL,
					Topic:           "sim/" + format + "/+/events",
					Format:          format,
					ReaderFromTopic: 3,
				},
			})
			runSource(t, src, sink)
			sink.waitFor(t, "online", func(rs []reader.Read) bool { return len(statuses(rs, "dock-2")) > 0 })
			pub, err := mqttsim.New(mqttsim.Options{Broker: b.URL, Topic: "sim/" + format + "/{reader}/events", Format: format,
				ClientID: "sim-rt-" + format, Batch: 4})
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now().UTC().Truncate(time.Millisecond) // a reader with a good clock: times kept as sent
			var fed []reader.Read
			for i := 0; i < 60; i++ {
				r := reader.Read{Time: t0.Add(time.Duration(i) * 1500 * time.Microsecond), Reader: []string{"dock-1", "dock-2"}[i%3/2],
					Antenna: 1 + i%4, EPC: fmt.Sprintf("E280116060000%011X", i), RSSI: -40 - float64(i%37)*0.75}
				fed = append(fed, r)
				pub.Feed(r)
			}
			if err := pub.Close(); err != nil {
				t.Fatalf("publisher close: %v", err)
			}
			got := tagReads(sink.waitFor(t, "60 reads", nTags(len(fed))))
			if len(got) != len(fed) {
				t.Fatalf("got %d reads, want %d", len(got), len(fed))
			}
			for i := range fed {
				if !got[i].Time.Equal(fed[i].Time) || got[i].Reader != fed[i].Reader || got[i].EPC != fed[i].EPC ||
					got[i].Antenna != fed[i].Antenna || got[i].RSSI != fed[i].RSSI {
					t.Errorf("read %d: got %+v, fed %+v", i, got[i], fed[i])
				}
			}
		})
	}
}

// A broker restart while reads are being published with QoS 1 loses no
// read: the publisher and the gateway both keep persistent sessions and
// mosquitto saves its state on SIGTERM.
func TestBrokerRestartLosesNothing(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	sink := newCollector()
	src := newSource(t, reader.Config{ID: "restart-1", Settings: &mqtt.Settings{Broker: b.URL, Topic: "rs/events", Format: mqtt.FormatZebra}})
	runSource(t, src, sink)
	sink.waitFor(t, "online", func(rs []reader.Read) bool { return len(statuses(rs, "restart-1")) > 0 })

	pub, err := mqttsim.New(mqttsim.Options{Broker: b.URL, Topic: "rs/events", Format: mqtt.FormatZebra, ClientID: "sim-restart", Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	const n = 600
	fedAll := make(chan struct{})
	go func() {
		defer close(fedAll)
		for i := 0; i < n; i++ {
			pub.Feed(reader.Read{Time: time.Now(), Reader: "restart-1", Antenna: 1, EPC: fmt.Sprintf("%024X", i), RSSI: -50})
			time.Sleep(3 * time.Millisecond)
		}
	}()
	sink.waitFor(t, "first reads", nTags(50))
	b.Stop()
	sink.waitFor(t, "offline", func(rs []reader.Read) bool {
		st := statuses(rs, "restart-1")
		return st[len(st)-1] == reader.StatusOffline
	})
	time.Sleep(300 * time.Millisecond) // reads keep coming to the publisher while the broker is away
	b.Restart()
	<-fedAll
	if err := pub.Close(); err != nil {
		t.Fatalf("publisher close: %v", err)
	}
	if d := pub.Dropped(); d != 0 {
		t.Fatalf("publisher dropped %d reads", d)
	}
	rs := sink.waitFor(t, "all unique reads", func(rs []reader.Read) bool {
		seen := map[string]bool{}
		for _, r := range tagReads(rs) {
			seen[r.EPC] = true
		}
		return len(seen) == n
	})
	st := statuses(rs, "restart-1")
	if len(st) < 3 || st[0] != reader.StatusOnline || st[len(st)-1] != reader.StatusOnline {
		t.Fatalf("statuses %v, want online … offline … online", st)
	}
	t.Logf("%d reads delivered for %d published (duplicates are allowed: at least once)", len(tagReads(rs)), n)
}

func TestCredentials(t *testing.T) {
	b := startBroker(t, brokerOpts{users: map[string]string{"gw": "s3cret"}})
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	os.WriteFile(good, []byte("s3cret\n"), 0o600)
	os.WriteFile(bad, []byte("guess\n"), 0o600)
	cfg := reader.Config{ID: "cred-1", Settings: &mqtt.Settings{Broker: b.URL, Topic: "cred/events", Format: mqtt.FormatImpinj, Username: "gw", PasswordFile: good}}

	msg, err := newSource(t, cfg).Check(context.Background())
	if err != nil || !strings.Contains(msg, "ok") || !strings.Contains(msg, "cred/events") {
		t.Fatalf("Check with the right password: %q, %v", msg, err)
	}

	wrong := cloneConfig(cfg)
	settingsIn(&wrong).PasswordFile = bad
	_, err = newSource(t, wrong).Check(context.Background())
	if !(errors.Is(err, mqtt.ErrBadCredentials) || errors.Is(err, mqtt.ErrNotAuthorized)) || !strings.Contains(err.Error(), "password_file") ||
		!strings.Contains(err.Error(), `"gw"`) {
		t.Fatalf("Check with a wrong password: %v; want a credentials error naming the user and password_file", err)
	}
	t.Logf("wrong password: %v", err)

	anon := cloneConfig(cfg)
	settingsIn(&anon).Username, settingsIn(&anon).PasswordFile = "", ""
	if _, err = newSource(t, anon).Check(context.Background()); !errors.Is(err, mqtt.ErrNotAuthorized) || !strings.Contains(err.Error(), "anonymous") {
		t.Fatalf("Check without credentials: %v", err)
	}

	// Run with wrong credentials keeps trying, reports the reader offline
	// and stops cleanly.
	sink := newCollector()
	stop, exited := runSource(t, newSource(t, wrong), sink)
	sink.waitFor(t, "offline", func(rs []reader.Read) bool { return len(statuses(rs, "cred-1")) > 0 })
	select {
	case <-exited:
		t.Fatal("Run returned on wrong credentials; it should keep retrying")
	case <-time.After(300 * time.Millisecond):
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st := statuses(sink.snapshot(), "cred-1"); len(st) != 1 || st[0] != reader.StatusOffline {
		t.Fatalf("statuses %v, want one offline", st)
	}

	// And with the right ones reads flow.
	sink = newCollector()
	runSource(t, newSource(t, cfg), sink)
	sink.waitFor(t, "online", func(rs []reader.Read) bool { return len(statuses(rs, "cred-1")) > 0 })
	pub, err := mqttsim.New(mqttsim.Options{Broker: b.URL, Topic: "cred/events", Format: mqtt.FormatImpinj, Username: "gw", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	pub.Feed(reader.Read{Time: time.Now(), Reader: "cred-1", Antenna: 1, EPC: "C0FFEE", RSSI: -55.25})
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if rs := tagReads(sink.waitFor(t, "a read", nTags(1))); rs[0].EPC != "C0FFEE" || rs[0].RSSI != -55.25 {
		t.Fatalf("got %s", summarize(rs))
	}
	_, err = mqttsim.New(mqttsim.Options{Broker: b.URL, Topic: "x", Format: mqtt.FormatImpinj, Username: "gw", Password: "nope"})
	if !(errors.Is(err, mqtt.ErrBadCredentials) || errors.Is(err, mqtt.ErrNotAuthorized)) {
		t.Fatalf("publisher with a wrong password: %v", err)
	}
}

func TestCheckUnreachable(t *testing.T) {
	port := freePort(t) // nothing listens there now
	src := newSource(t, reader.Config{ID: "gone", Settings: &mqtt.Settings{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", port), Topic: "x", Format: mqtt.FormatZebra}})
	_, err := src.Check(context.Background())
	if !errors.Is(err, mqtt.ErrUnreachable) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Check: %v, want ErrUnreachable (connection refused)", err)
	}
}

func TestTLS(t *testing.T) {
	b := startBroker(t, brokerOpts{tls: true})
	cfg := reader.Config{ID: "tls-1", Settings: &mqtt.Settings{Broker: b.TLSURL, Topic: "tls/events", Format: mqtt.FormatZebra, TLS: &reader.TLS{CA: b.CA}}}
	msg, err := newSource(t, cfg).Check(context.Background())
	if err != nil || !strings.Contains(msg, "(tls)") {
		t.Fatalf("Check over TLS: %q, %v", msg, err)
	}

	sink := newCollector()
	runSource(t, newSource(t, cfg), sink)
	sink.waitFor(t, "online", func(rs []reader.Read) bool { return len(statuses(rs, "tls-1")) > 0 })
	pub, err := mqttsim.New(mqttsim.Options{Broker: b.TLSURL, Topic: "tls/events", Format: mqtt.FormatZebra, TLS: &reader.TLS{CA: b.CA}})
	if err != nil {
		t.Fatal(err)
	}
	pub.Feed(reader.Read{Time: time.Now(), Reader: "tls-1", Antenna: 2, EPC: "AABBCCDD", RSSI: -60})
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if rs := tagReads(sink.waitFor(t, "a read over TLS", nTags(1))); rs[0].EPC != "AABBCCDD" {
		t.Fatalf("got %+v", rs)
	}

	noCA := cloneConfig(cfg)
	settingsIn(&noCA).TLS = nil // system roots do not know the test CA
	if _, err := newSource(t, noCA).Check(context.Background()); !errors.Is(err, mqtt.ErrTLS) {
		t.Fatalf("Check without the CA: %v, want ErrTLS", err)
	}
	badName := cloneConfig(cfg)
	settingsIn(&badName).TLS = &reader.TLS{CA: b.CA, ServerName: "broker.example"}
	if _, err := newSource(t, badName).Check(context.Background()); !errors.Is(err, mqtt.ErrTLS) || !strings.Contains(err.Error(), "broker.example") {
		t.Fatalf("Check with a wrong server name: %v, want ErrTLS naming it", err)
	}
}

func TestTLSClientCertificate(t *testing.T) {
	b := startBroker(t, brokerOpts{tls: true, requireCert: true})
	cfg := reader.Config{
		ID: "mtls-1",
		Settings: &mqtt.Settings{Broker: b.TLSURL,
			Topic:  "mtls/events",
			Format: mqtt.FormatZebra,
			TLS:    &reader.TLS{CA: b.CA, Cert: b.CertFile, Key: b.KeyFile},
		},
	}
	if msg, err := newSource(t, cfg).Check(context.Background()); err != nil {
		t.Fatalf("Check with a client certificate: %q, %v", msg, err)
	}
	noCert := cloneConfig(cfg)
	settingsIn(&noCert).TLS = &reader.TLS{CA: b.CA}
	_, err := newSource(t, noCert).Check(context.Background())
	if !errors.Is(err, mqtt.ErrTLS) {
		t.Fatalf("Check without a client certificate: %v, want ErrTLS", err)
	}
	t.Logf("no client certificate: %v", err)
}

func TestBadPayloadsCountedAndAcked(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	cfg := reader.Config{ID: "bad-1", Settings: &mqtt.Settings{Broker: b.URL, Topic: "bad/events", Format: mqtt.FormatImpinj}}
	good := func(epc string) string {
		return `{"timestamp":"2026-11-25T10:00:00Z","eventType":"tagInventory","tagInventoryEvent":{"epcHex":"` + epc + `","antennaPort":1,"peakRssiCdbm":-5000}}`
	}
	errs := testMetrics.ReaderFrameErrors.WithLabelValues("bad-1")
	before := counterValue(t, errs)

	sink := newCollector()
	stop, _ := runSource(t, newSource(t, cfg), sink)
	sink.waitFor(t, "online", func(rs []reader.Read) bool { return len(statuses(rs, "bad-1")) > 0 })
	publish(t, b.URL, "bad/events",
		"garbage",
		`{"eventType":"tagInventory","tagInventoryEvent":{"antennaPort":1}}`,
		"["+good("AA01")+`,{"eventType":"tagInventory","tagInventoryEvent":{"epcHex":1}}]`,
		"\x00\xff",
		good("AA02"))
	rs := tagReads(sink.waitFor(t, "2 good reads", nTags(2)))
	if rs[0].EPC != "AA01" || rs[1].EPC != "AA02" {
		t.Fatalf("got %s", summarize(rs))
	}
	if got := counterValue(t, errs) - before; got != 4 {
		t.Fatalf("frame errors +%v, want +4", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Every message was acked, bad ones too: a new session run gets only
	// what is published next.
	sink = newCollector()
	runSource(t, newSource(t, cfg), sink)
	sink.waitFor(t, "online", func(rs []reader.Read) bool { return len(statuses(rs, "bad-1")) > 0 })
	publish(t, b.URL, "bad/events", good("AA03"))
	rs = tagReads(sink.waitFor(t, "the next read", nTags(1)))
	if len(rs) != 1 || rs[0].EPC != "AA03" {
		t.Fatalf("after restart got %s, want only AA03", summarize(rs))
	}
}

// sinkFunc adapts a function; status-only batches are accepted so the
// tests can fail exactly the batch with tag reads.
type failingSink struct {
	fail    func(ctx context.Context) error
	entered chan struct{}
}

func (f *failingSink) Deliver(ctx context.Context, reads []reader.Read) error {
	if len(tagReads(reads)) == 0 {
		return nil
	}
	select {
	case f.entered <- struct{}{}:
	default:
	}
	return f.fail(ctx)
}

func TestAckOnlyAfterDeliver(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	payload := `{"time":"2026-11-25T10:00:00Z","antenna":1,"epc":"BEEF","rssi":-50}`

	t.Run("failing sink", func(t *testing.T) {
		cfg := reader.Config{ID: "ack-1", Settings: &mqtt.Settings{Broker: b.URL, Topic: "ack/1", Format: mqtt.FormatJSON}}
		sink := &failingSink{fail: func(context.Context) error { return errors.New("pipeline closed") }, entered: make(chan struct{}, 1)}
		// First run creates the persistent session.
		watch := watchOnline(sink, cfg.ID)
		stop, exited := runSource(t, newSource(t, cfg), watch)
		watch.wait(t)
		publish(t, b.URL, "ack/1", payload)
		select {
		case <-exited:
		case <-time.After(waitLimit):
			t.Fatal("Run did not return when the sink refused reads")
		}
		if err := stop(); !errors.Is(err, mqtt.ErrSinkClosed) {
			t.Fatalf("Run: %v, want ErrSinkClosed", err)
		}
		col := newCollector()
		runSource(t, newSource(t, cfg), col)
		if rs := tagReads(col.waitFor(t, "redelivery", nTags(1))); rs[0].EPC != "BEEF" {
			t.Fatalf("got %s", summarize(rs))
		}
	})

	t.Run("blocking sink", func(t *testing.T) {
		cfg := reader.Config{ID: "ack-2", Settings: &mqtt.Settings{Broker: b.URL, Topic: "ack/2", Format: mqtt.FormatJSON}}
		sink := &failingSink{fail: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, entered: make(chan struct{}, 1)}
		watch := watchOnline(sink, cfg.ID)
		stop, _ := runSource(t, newSource(t, cfg), watch)
		watch.wait(t)
		publish(t, b.URL, "ack/2", payload)
		select {
		case <-sink.entered:
		case <-time.After(waitLimit):
			t.Fatal("sink never got the read")
		}
		if err := stop(); err != nil {
			t.Fatalf("Run: %v, want nil on shutdown", err)
		}
		col := newCollector()
		runSource(t, newSource(t, cfg), col)
		if rs := tagReads(col.waitFor(t, "redelivery", nTags(1))); rs[0].EPC != "BEEF" {
			t.Fatalf("got %s", summarize(rs))
		}
	})
}

// The connection drops while Deliver holds the batch: the late ack dies
// with the old connection and the broker sends the message again after
// the reconnect, within the same Run.
func TestRedeliveryAfterConnectionLoss(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	cfg := reader.Config{ID: "ack-3", Settings: &mqtt.Settings{Broker: b.URL, Topic: "ack/3", Format: mqtt.FormatJSON}}
	col := newCollector()
	release := make(chan struct{})
	var first sync.Once
	entered := make(chan struct{})
	sink := reader.SinkFunc(func(ctx context.Context, reads []reader.Read) error {
		if len(tagReads(reads)) > 0 {
			first.Do(func() { close(entered); <-release })
		}
		return col.Deliver(ctx, reads)
	})
	watch := watchOnline(sink, cfg.ID)
	runSource(t, newSource(t, cfg), watch)
	watch.wait(t)
	publish(t, b.URL, "ack/3", `{"epc":"ABCD"}`)
	select {
	case <-entered:
	case <-time.After(waitLimit):
		t.Fatal("sink never got the read")
	}
	b.Stop()
	b.Restart()
	close(release)
	rs := col.waitFor(t, "the read twice", func(rs []reader.Read) bool { return len(tagReads(rs)) >= 2 })
	for _, r := range tagReads(rs) {
		if r.EPC != "ABCD" {
			t.Fatalf("got %s", summarize(rs))
		}
	}
	if st := statuses(rs, "ack-3"); fmt.Sprint(st) != "[online offline online]" {
		t.Fatalf("statuses %v", st)
	}
}

// onlineSink passes batches on and closes online when the reader was
// reported online, i.e. Run has subscribed. (The metric cannot tell: it is
// global and keeps its value across -count runs.)
type onlineSink struct {
	next   reader.Sink
	id     string
	once   sync.Once
	online chan struct{}
}

func watchOnline(next reader.Sink, id string) *onlineSink {
	return &onlineSink{next: next, id: id, online: make(chan struct{})}
}

func (o *onlineSink) Deliver(ctx context.Context, reads []reader.Read) error {
	for _, r := range reads {
		if r.Reader == o.id && r.Status == reader.StatusOnline {
			o.once.Do(func() { close(o.online) })
		}
	}
	return o.next.Deliver(ctx, reads)
}

func (o *onlineSink) wait(t *testing.T) {
	t.Helper()
	select {
	case <-o.online:
	case <-time.After(waitLimit):
		t.Fatalf("reader %s never reported online", o.id)
	}
}

func TestStatusTopicAndBrokerLoss(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	cfg := reader.Config{
		ID:       "st",
		Provides: []string{"r1"},
		Settings: &mqtt.Settings{Broker: b.URL,
			Topic:           "st/+/events",
			StatusTopic:     "st/+/status",
			ReaderFromTopic: 2,
			Format:          mqtt.FormatImpinj,
		},
	}
	sink := newCollector()
	runSource(t, newSource(t, cfg), sink)
	want := []reader.Status{reader.StatusOnline}
	check := func(what string) {
		t.Helper()
		sink.waitFor(t, what, func(rs []reader.Read) bool { return fmt.Sprint(statuses(rs, "r1")) == fmt.Sprint(want) })
	}
	check("online after subscribe")
	publish(t, b.URL, "st/r1/status", "connection lost")
	want = append(want, reader.StatusOffline)
	check("offline from the reader's will")
	publish(t, b.URL, "st/r1/status", "connected")
	want = append(want, reader.StatusOnline)
	check("online from the reader's connect message")
	if v := counterValue(t, testMetrics.ReaderConnected.WithLabelValues("r1")); v != 1 {
		t.Fatalf("rfidgw_reader_connected{r1} = %v", v)
	}
	b.Stop()
	want = append(want, reader.StatusOffline)
	check("offline on broker loss")
	if v := counterValue(t, testMetrics.ReaderConnected.WithLabelValues("r1")); v != 0 {
		t.Fatalf("rfidgw_reader_connected{r1} = %v while the broker is down", v)
	}
	b.Restart()
	want = append(want, reader.StatusOnline)
	check("online after reconnect")
	// A reader seen for the first time in a topic is announced online.
	publish(t, b.URL, "st/r9/events", `{"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"0102"}}`)
	rs := sink.waitFor(t, "r9 read", nTags(1))
	if st := statuses(rs, "r9"); len(st) != 1 || st[0] != reader.StatusOnline {
		t.Fatalf("r9 statuses %v", st)
	}
	if r := tagReads(rs)[0]; r.Reader != "r9" || r.EPC != "0102" {
		t.Fatalf("read %+v", r)
	}
}

func TestAntennaFilter(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	cfg := reader.Config{ID: "ant", Antennas: []int{2}, Settings: &mqtt.Settings{Broker: b.URL, Topic: "ant/events", Format: mqtt.FormatZebra}}
	sink := newCollector()
	watch := watchOnline(sink, cfg.ID)
	runSource(t, newSource(t, cfg), watch)
	watch.wait(t)
	publish(t, b.URL, "ant/events", `[{"type":"SIMPLE","data":{"idHex":"01","antenna":1}},{"type":"SIMPLE","data":{"idHex":"02","antenna":2}}]`,
		`{"type":"SIMPLE","data":{"idHex":"03","antenna":2}}`)
	rs := tagReads(sink.waitFor(t, "2 reads", nTags(2)))
	if len(rs) != 2 || rs[0].EPC != "02" || rs[1].EPC != "03" {
		t.Fatalf("got %s", summarize(rs))
	}
}

// A retained message on the data topic is the topic's old last message,
// sent again at every subscribe: not a read.
func TestRetainedDataIgnored(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL).SetClientID("retainer"))
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if tok := c.Publish("ret/events", 1, true, `{"type":"SIMPLE","data":{"idHex":"01"}}`); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	c.Disconnect(100)
	cfg := reader.Config{ID: "ret", Settings: &mqtt.Settings{Broker: b.URL, Topic: "ret/events", Format: mqtt.FormatZebra}}
	sink := newCollector()
	watch := watchOnline(sink, cfg.ID)
	runSource(t, newSource(t, cfg), watch)
	watch.wait(t)
	publish(t, b.URL, "ret/events", `{"type":"SIMPLE","data":{"idHex":"02"}}`)
	if rs := tagReads(sink.waitFor(t, "a read", nTags(1))); len(rs) != 1 || rs[0].EPC != "02" {
		t.Fatalf("got %s, want only the new read 02", summarize(rs))
	}
}

var _ = sort.Strings

func TestWebSocket(t *testing.T) {
	b := startBroker(t, brokerOpts{websockets: true})
	cfg := reader.Config{ID: "ws-1", Settings: &mqtt.Settings{Broker: b.WSURL, Topic: "ws/events", Format: mqtt.FormatImpinj}}
	if msg, err := newSource(t, cfg).Check(context.Background()); err != nil {
		t.Fatalf("Check over websockets: %q, %v", msg, err)
	}
	sink := newCollector()
	watch := watchOnline(sink, cfg.ID)
	runSource(t, newSource(t, cfg), watch)
	watch.wait(t)
	publish(t, b.URL, "ws/events", `{"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"0A0B","antennaPort":1,"peakRssiCdbm":-6000}}`)
	if rs := tagReads(sink.waitFor(t, "a read over websockets", nTags(1))); rs[0].EPC != "0A0B" || rs[0].RSSI != -60 {
		t.Fatalf("got %s", summarize(rs))
	}
}

// Reads of the shared scenario cross_floor (reader rack-row-b, an Impinj in
// the scenario config) go through the simulator, mosquitto and the source
// unchanged, in both vendor formats; a status line fed to the simulator
// reaches the gateway through the status topic.
func TestScenarioReadsRoundTrip(t *testing.T) {
	raw, err := os.ReadFile("testdata/rack-row-b.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var fed []reader.Read
	for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		r, err := reader.ParseRead([]byte(line))
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		fed = append(fed, r)
	}
	b := startBroker(t, brokerOpts{})
	for _, format := range []string{mqtt.FormatImpinj, mqtt.FormatZebra} {
		t.Run(format, func(t *testing.T) {
			base := "scn/" + format + "/rack-row-b"
			cfg := reader.Config{ID: "rack-row-b", Antennas: []int{1}, Settings: &mqtt.Settings{Broker: b.URL, Topic: base + "/events", StatusTopic: base + "/status", Format: format, ReaderClock: "trust"}}
			sink := newCollector()
			watch := watchOnline(sink, cfg.ID)
			runSource(t, newSource(t, cfg), watch)
			watch.wait(t)
			pub, err := mqttsim.New(mqttsim.Options{Broker: b.URL, Topic: "scn/" + format + "/{reader}/events",
				StatusTopic: "scn/" + format + "/{reader}/status", Format: format, ClientID: "scn-" + format, Batch: 5})
			if err != nil {
				t.Fatal(err)
			}
			half := len(fed) / 2
			for _, r := range fed[:half] {
				pub.Feed(r)
			}
			pub.Feed(reader.StatusRead(fed[half].Time, "rack-row-b", reader.StatusOffline))
			pub.Feed(reader.StatusRead(fed[half].Time, "rack-row-b", reader.StatusOnline))
			for _, r := range fed[half:] {
				pub.Feed(r)
			}
			if err := pub.Close(); err != nil {
				t.Fatal(err)
			}
			rs := sink.waitFor(t, "all reads and the online again", func(rs []reader.Read) bool {
				return len(tagReads(rs)) == len(fed) && len(statuses(rs, "rack-row-b")) == 3
			})
			if st := statuses(rs, "rack-row-b"); fmt.Sprint(st) != "[online offline online]" {
				t.Fatalf("statuses %v", st)
			}
			for i, r := range tagReads(rs) {
				want := fed[i]
				if !r.Time.Equal(want.Time) || r.Reader != want.Reader || r.Antenna != want.Antenna || r.EPC != want.EPC || r.RSSI != want.RSSI {
					t.Fatalf("read %d: got %+v, fed %+v", i, r, want)
				}
			}
		})
	}
}

// settingsIn returns the mqtt settings of c, for tests that edit them.
func settingsIn(c *reader.Config) *mqtt.Settings {
	if c.Settings == nil {
		c.Settings = &mqtt.Settings{}
	}
	return c.Settings.(*mqtt.Settings)
}

// cloneConfig copies c with its own settings, so an edit stays in the copy.
func cloneConfig(c reader.Config) reader.Config {
	s := *settingsIn(&c)
	c.Settings = &s
	return c
}
