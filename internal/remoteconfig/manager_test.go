package remoteconfig

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/config"
)

// fakeGateway is the Target of the manager tests: a reader is online
// unless its address says "dead"; Ready fails while notReady is set.
type fakeGateway struct {
	mu       sync.Mutex
	applied  []*config.Config
	notReady error
	applyErr error
}

func (g *fakeGateway) Apply(ctx context.Context, cfg *config.Config) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.applyErr != nil {
		return g.applyErr
	}
	g.applied = append(g.applied, cfg)
	return nil
}

func (g *fakeGateway) Ready() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.notReady
}

func (g *fakeGateway) ReadersOnline() map[string]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]bool{}
	if len(g.applied) == 0 {
		return out
	}
	for _, r := range g.applied[len(g.applied)-1].Readers {
		out[r.ID] = !strings.Contains(fmt.Sprintf("%+v", r.Settings), "dead")
	}
	return out
}

func (g *fakeGateway) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.applied)
}

func (g *fakeGateway) last() *config.Config {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.applied[len(g.applied)-1]
}

func zoneIDs(cfg *config.Config) string {
	var ids []string
	for _, z := range cfg.Zones {
		ids = append(ids, z.ID)
	}
	return strings.Join(ids, ",")
}

// loadYAML is the Loader of the tests: the real config decoding and
// validation.
func loadYAML(name string, data []byte) (*config.Config, error) {
	cfg, err := config.LoadYAML(name, data)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(config.ScopeAll); err != nil {
		return nil, err
	}
	return cfg, nil
}

// quietLog logs through t.Log (shown only for failing tests).
func quietLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

type rig struct {
	t       *testing.T
	dir     string
	priv    ed25519.PrivateKey
	pubFile string
	local   string
	gw      *fakeGateway
	m       *Manager
	cancel  context.CancelFunc
	done    chan struct{}
	changes []Status
	mu      sync.Mutex
}

const localYAML = `gateway: {id: floor3, data_dir: %q}
readers:
  - {id: dock-1, type: llrp, address: "127.0.0.1:5084"}
  - {id: rack-a, type: llrp, address: "127.0.0.1:5085"}
zones:
  - {id: local-gate, kind: gate, outside: [{reader: dock-1, antennas: [1]}], inside: [{reader: dock-1, antennas: [2]}]}
  - {id: local-rack, kind: rack, antennas: [{reader: rack-a}]}
edge: {dwell: 5s}
uplink: {kafka: {brokers: ["127.0.0.1:9092"]}}
remote_config: {public_keys: [%q], rollback_after: %s}
`

func newRig(t *testing.T, gate string) *rig {
	t.Helper()
	r := &rig{t: t, dir: t.TempDir(), gw: &fakeGateway{}}
	keyDir := filepath.Join(r.dir, "keys")
	r.priv, _ = testKey(t, keyDir)
	r.pubFile = filepath.Join(keyDir, PublicKeyFile)
	r.local = filepath.Join(r.dir, "gateway.yaml")
	r.writeLocal(fmt.Sprintf(localYAML, filepath.Join(r.dir, "data"), r.pubFile, gate))
	os.MkdirAll(filepath.Join(r.dir, "data"), 0o750)
	r.open()
	return r
}

func (r *rig) writeLocal(body string) {
	if err := os.WriteFile(r.local, []byte(body), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) loadLocal() (*config.Config, []byte) {
	r.t.Helper()
	body, _ := os.ReadFile(r.local)
	cfg, err := config.Load(r.local)
	if err == nil {
		err = cfg.Validate(config.ScopeAll)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return cfg, body
}

// open starts a manager as a gateway start does: Open, apply its running
// config, Run.
func (r *rig) open() {
	r.t.Helper()
	local, body := r.loadLocal()
	m, err := Open(Options{Local: local, LocalYAML: body, Load: loadYAML, Log: quietLog(r.t), OnChange: func(s Status) {
		r.mu.Lock()
		r.changes = append(r.changes, s)
		r.mu.Unlock()
	}, Metrics: NewMetrics()})
	if err != nil {
		r.t.Fatal(err)
	}
	r.m = m
	r.gw.Apply(context.Background(), m.Running())
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() { defer close(r.done); m.Run(ctx, r.gw) }()
	r.t.Cleanup(r.stop)
}

func (r *rig) stop() {
	r.cancel()
	<-r.done
}

func (r *rig) offer(key string, value []byte) error {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.m.Offer(ctx, key, value)
}

func (r *rig) push(key string, version uint64, cfg string) []byte {
	return sign(r.t, r.priv, key, version, cfg)
}

const newZones = `zones:
  - {id: new-gate, kind: gate, outside: [{reader: dock-1, antennas: [1]}], inside: [{reader: dock-1, antennas: [2]}]}
  - {id: new-rack, kind: rack, antennas: [{reader: rack-a}]}
`

func TestManagerAppliesAndSurvivesRestart(t *testing.T) {
	r := newRig(t, "1s")
	if got := r.m.Status(); got.Version != 0 || got.Hash != "-" || got.Result != "" {
		t.Fatalf("fresh status %+v", got)
	}
	start := time.Now()
	if err := r.offer(FleetKey, r.push(FleetKey, 2, newZones+"edge: {dwell: 4s}\n")); err != nil {
		t.Fatalf("good push: %v", err)
	}
	if time.Since(start) < time.Second {
		t.Errorf("decided after %s, before the 1s health gate closed", time.Since(start))
	}
	st := r.m.Status()
	if st.Result != ResultApplied || st.Version != 2 || st.FleetVersion != 2 || st.Hash == "-" || st.ResultTarget != FleetKey {
		t.Fatalf("status after a good push %+v", st)
	}
	cfg := r.gw.last()
	if zoneIDs(cfg) != "new-gate,new-rack" || cfg.Edge.Dwell != 4*time.Second || cfg.Gateway.ID != "floor3" {
		t.Errorf("applied zones %s dwell %s", zoneIDs(cfg), cfg.Edge.Dwell)
	}
	r.mu.Lock()
	results := []string{}
	for _, c := range r.changes {
		results = append(results, c.Result)
	}
	r.mu.Unlock()
	if strings.Join(results, ",") != "checking,applied" {
		t.Errorf("published results %v, want checking then applied", results)
	}
	// The same version again, signed anew: older.
	if err := r.offer(FleetKey, r.push(FleetKey, 2, newZones+"edge: {dwell: 4s}\n")); !errors.Is(err, ErrOlderVersion) {
		t.Errorf("the same version re-signed: %v, want older_version", err)
	}
	// Restart (Kafka away): the last good config runs from the data dir.
	r.stop()
	r.gw = &fakeGateway{}
	r.open()
	if zoneIDs(r.m.Running()) != "new-gate,new-rack" || r.m.Status().Version != 2 {
		t.Fatalf("after a restart: zones %s, status %+v", zoneIDs(r.m.Running()), r.m.Status())
	}
	if r.m.Status().Result != ResultRejected {
		t.Errorf("the outcome before the restart was not kept: %+v", r.m.Status())
	}
}

func TestManagerRefusals(t *testing.T) {
	r := newRig(t, "1s")
	if err := r.offer(FleetKey, r.push(FleetKey, 5, newZones)); err != nil {
		t.Fatal(err)
	}
	applied := r.gw.count()
	good := r.m.Status()
	other, _ := testKey(t, t.TempDir())
	unsigned := []byte(`{"schema":1,"payload":"{}"}`)
	tampered := []byte(strings.Replace(string(r.push("floor3", 9, newZones)), "new-rack", "new-rock", 1))
	cases := []struct {
		name, key string
		value     []byte
		reason    string
	}{
		{"unsigned", "floor3", unsigned, ReasonUnsigned},
		{"unknown key", "floor3", sign(t, other, "floor3", 9, newZones), ReasonUnknownKey},
		{"bad signature", "floor3", tampered, ReasonBadSignature},
		{"older than the fleet version it runs", FleetKey, r.push(FleetKey, 4, newZones), ReasonOlderVersion},
		{"for another gateway", "floor3", r.push("floor4", 9, newZones), ReasonOtherGateway},
		{"zone names an unknown reader", "floor3", r.push("floor3", 9, "zones: [{id: z, kind: rack, antennas: [{reader: nope}]}]\n"), ReasonInvalid},
		{"uplink section", "floor3", r.push("floor3", 10, "uplink: {kafka: {brokers: [x:1]}}\n"), ReasonInvalid},
		{"reader naming a secret file", "floor3", r.push("floor3", 11, "readers:\n  - {id: dock-1, type: mqtt, broker: \"tcp://evil:1883\", topic: t, format: impinj, password_file: /etc/rfidgw/kafka.pass}\n  - {id: rack-a, type: llrp, address: \"127.0.0.1:5085\"}\n"), ReasonInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := r.offer(tc.key, tc.value)
			if Reason(err) != tc.reason {
				t.Fatalf("err %v (reason %q), want %s", err, Reason(err), tc.reason)
			}
			st := r.m.Status()
			if st.Result != ResultRejected || st.Reason != tc.reason || st.Detail == "" || st.ResultTarget != tc.key {
				t.Errorf("status %+v", st)
			}
			if st.Version != good.Version || st.Hash != good.Hash || r.gw.count() != applied {
				t.Errorf("a refused push changed what runs: %+v, %d applies", st, r.gw.count())
			}
		})
	}
	// A message at a version already refused as invalid is older now.
	if err := r.offer("floor3", r.push("floor3", 9, newZones)); !errors.Is(err, ErrOlderVersion) {
		t.Errorf("reuse of a refused version: %v", err)
	}
	// The keys of other gateways are none of this one's business.
	if err := r.offer("floor4", unsigned); err != nil || r.m.Status().Reason != ReasonOlderVersion {
		t.Errorf("another gateway's key: %v %+v", err, r.m.Status())
	}
}

func TestManagerRollsBack(t *testing.T) {
	r := newRig(t, "1s")
	if err := r.offer(FleetKey, r.push(FleetKey, 1, newZones)); err != nil {
		t.Fatal(err)
	}
	good := r.m.Status()
	before := r.gw.last()
	dead := "readers:\n  - {id: dock-1, type: llrp, address: \"127.0.0.1:5084\"}\n  - {id: rack-a, type: llrp, address: \"dead.invalid:5084\"}\n"
	err := r.offer("floor3", r.push("floor3", 2, dead))
	if !errors.Is(err, ErrReaderLost) || !strings.Contains(err.Error(), "rack-a") {
		t.Fatalf("push that loses a reader: %v", err)
	}
	st := r.m.Status()
	if st.Result != ResultRolledBack || st.Reason != ReasonReaderLost || st.ResultVersion != 2 || st.Version != good.Version || st.Hash != good.Hash {
		t.Errorf("status after rollback %+v", st)
	}
	if r.gw.last() != before {
		t.Errorf("rollback applied %p, want the last good config %p", r.gw.last(), before)
	}
	// Not ready at the end of the gate: rolled back as well.
	r.gw.mu.Lock()
	r.gw.notReady = errors.New("buffer: disk full")
	r.gw.mu.Unlock()
	err = r.offer("floor3", r.push("floor3", 3, "edge: {dwell: 2s}\n"))
	if !errors.Is(err, ErrNotReady) || r.m.Status().Reason != ReasonNotReady || r.gw.last() != before {
		t.Errorf("not ready: %v %+v", err, r.m.Status())
	}
	r.gw.mu.Lock()
	r.gw.notReady = nil
	r.gw.mu.Unlock()
	// A restart does not bring a rolled-back version back.
	r.stop()
	r.gw = &fakeGateway{}
	r.open()
	if zoneIDs(r.m.Running()) != "new-gate,new-rack" || r.m.Status().Version != 1 {
		t.Fatalf("after restart %s %+v", zoneIDs(r.m.Running()), r.m.Status())
	}
	if err := r.offer("floor3", r.push("floor3", 2, dead)); !errors.Is(err, ErrOlderVersion) {
		t.Errorf("the rolled-back version offered again: %v", err)
	}
}

func TestManagerInterruptedGate(t *testing.T) {
	r := newRig(t, "1h")
	value := r.push("floor3", 4, newZones)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.m.Offer(ctx, "floor3", value) }()
	deadline := time.Now().Add(10 * time.Second)
	for (r.m.Status().Result != ResultChecking || r.gw.count() < 2) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if zoneIDs(r.gw.last()) != "new-gate,new-rack" {
		t.Fatalf("not applied during the gate: %s", zoneIDs(r.gw.last()))
	}
	r.stop() // the gateway stops during the gate
	cancel()
	<-errc
	r.gw = &fakeGateway{}
	r.open()
	st := r.m.Status()
	if zoneIDs(r.m.Running()) != "local-gate,local-rack" || st.Result != ResultRolledBack || st.Reason != ReasonInterrupted || st.ResultVersion != 4 {
		t.Fatalf("after a stop during the gate: zones %s, status %+v", zoneIDs(r.m.Running()), st)
	}
	// Reading the same message again at start does not apply it, nor
	// change the outcome.
	if err := r.offer("floor3", value); err != nil || r.m.Status().Reason != ReasonInterrupted {
		t.Errorf("the interrupted message again: %v %+v", err, r.m.Status())
	}
}

func TestManagerLayersAndLocalReload(t *testing.T) {
	r := newRig(t, "1s")
	if err := r.offer("floor3", r.push("floor3", 3, newZones)); err != nil {
		t.Fatal(err)
	}
	// A later fleet push sets the edge for everyone; this gateway keeps
	// its own zones.
	if err := r.offer(FleetKey, r.push(FleetKey, 4, "edge: {dwell: 2s}\nzones: []\n")); err != nil {
		t.Fatal(err)
	}
	cfg := r.gw.last()
	st := r.m.Status()
	if zoneIDs(cfg) != "new-gate,new-rack" || cfg.Edge.Dwell != 2*time.Second || st.Version != 4 || st.FleetVersion != 4 || st.GatewayVersion != 3 {
		t.Fatalf("layers: zones %s dwell %s status %+v", zoneIDs(cfg), cfg.Edge.Dwell, st)
	}
	// SIGHUP with a changed local file: its own changes apply, the pushed
	// sections stay.
	_, body := r.loadLocal()
	body2 := strings.Replace(string(body), "local-rack", "renamed-rack", 1)
	body2 = strings.Replace(body2, "127.0.0.1:9092", "127.0.0.1:9093", 1)
	r.writeLocal(body2)
	local, body := r.loadLocal()
	if err := r.m.LocalReload(context.Background(), local, body); err != nil {
		t.Fatal(err)
	}
	cfg = r.gw.last()
	if zoneIDs(cfg) != "new-gate,new-rack" || cfg.Edge.Dwell != 2*time.Second || cfg.Uplink.Kafka.Brokers[0] != "127.0.0.1:9093" {
		t.Errorf("after SIGHUP: zones %s dwell %s brokers %v", zoneIDs(cfg), cfg.Edge.Dwell, cfg.Uplink.Kafka.Brokers)
	}
	// A local file that no longer fits the pushed sections is refused.
	r.writeLocal(strings.Replace(body2, "id: dock-1, type", "id: dock-9, type", 1))
	local, body = r.loadLocalUnchecked()
	if local != nil {
		if err := r.m.LocalReload(context.Background(), local, body); !errors.Is(err, ErrInvalid) {
			t.Errorf("local file that breaks the pushed zones: %v", err)
		}
	}
	// An empty push for this gateway hands its sections back to the layer
	// below: the fleet's zones: [] (which win over the local file's).
	if err := r.offer("floor3", r.push("floor3", 5, "")); err != nil {
		t.Fatal(err)
	}
	if cfg = r.gw.last(); zoneIDs(cfg) != "" || r.m.Status().GatewayVersion != 5 {
		t.Errorf("after an empty push: zones %q %+v", zoneIDs(cfg), r.m.Status())
	}
	// Key rotation: the key that signed both pushes leaves public_keys on
	// SIGHUP; the pushes it signed stop counting, the local file runs.
	_, _ = testKey(t, filepath.Join(r.dir, "newkey"))
	r.writeLocal(strings.Replace(body2, r.pubFile, filepath.Join(r.dir, "newkey", PublicKeyFile), 1))
	local, body = r.loadLocal()
	if err := r.m.LocalReload(context.Background(), local, body); err != nil {
		t.Fatal(err)
	}
	if cfg = r.gw.last(); zoneIDs(cfg) != "local-gate,renamed-rack" || r.m.Status().Version != 0 {
		t.Errorf("after removing the key: zones %s %+v", zoneIDs(cfg), r.m.Status())
	}
}

// loadLocalUnchecked loads the local file alone, nil when it is invalid
// by itself.
func (r *rig) loadLocalUnchecked() (*config.Config, []byte) {
	body, _ := os.ReadFile(r.local)
	cfg, err := config.Load(r.local)
	if err != nil {
		return nil, nil
	}
	return cfg, body
}

func TestManagerPushesFilter(t *testing.T) {
	r := newRig(t, "1s")
	if err := r.offer(FleetKey, r.push(FleetKey, 1, "filter: {ignore: [raw]}\n")); err != nil {
		t.Fatal(err)
	}
	if cfg := r.gw.last(); strings.Join(cfg.Filter.Ignore, ",") != "raw" || zoneIDs(cfg) != "local-gate,local-rack" {
		t.Errorf("after a filter push: filter %+v zones %s", cfg.Filter, zoneIDs(cfg))
	}
}
