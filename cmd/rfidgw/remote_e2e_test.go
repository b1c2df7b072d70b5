package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rfidgw/rfidgw/internal/remoteconfig"
	"github.com/rfidgw/rfidgw/internal/testkit"
)

// fleetEvents collects the rack moves every gateway sends to Kafka.
type fleetEvents struct {
	mu    sync.Mutex
	moves map[string][]string // gateway -> to-zones of its rack_move events, in arrival order
}

func watchFleet(t *testing.T, brokers string) *fleetEvents {
	t.Helper()
	f := &fleetEvents{moves: map[string][]string{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("rfid.movements"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				var e testkit.Event
				if json.Unmarshal(r.Value, &e) != nil || e.Type != "rack_move" || e.To == nil {
					return
				}
				f.mu.Lock()
				f.moves[e.Gateway] = append(f.moves[e.Gateway], e.To.Zone)
				f.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return f
}

// since returns how many moves the gateway sent so far, and moves after n.
func (f *fleetEvents) count(gw string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.moves[gw])
}

func (f *fleetEvents) after(gw string, n int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n > len(f.moves[gw]) {
		return nil
	}
	return append([]string(nil), f.moves[gw][n:]...)
}

type fleetGateway struct {
	id, cfg string
	http    string
	proc    *testkit.Process
}

func (g *fleetGateway) view(t *testing.T) remoteconfig.View {
	t.Helper()
	v, err := g.tryView()
	if err != nil {
		t.Fatalf("%s: %v", g.id, err)
	}
	return v
}

// tryView is GET /api/config; an error while the process is not up.
func (g *fleetGateway) tryView() (remoteconfig.View, error) {
	var v remoteconfig.View
	resp, err := http.Get(g.http + "/api/config")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return v, fmt.Errorf("/api/config: %d %s", resp.StatusCode, body)
	}
	return v, json.Unmarshal(body, &v)
}

func (g *fleetGateway) readerOnline() bool {
	v, ok := testkit.Metric(g.http+"/metrics", `rfidgw_reader_connected{reader="dock"}`)
	return ok && v == 1
}

// TestRemoteConfigFleet: ten gateway processes against one Kafka take a
// signed zone set pushed to all of them; three get a bad push each (a bad
// signature, an invalid zone, a reader pointed at a port nothing answers):
// rejected, rejected, rolled back after the health gate, each reported with
// its reason, while the other seven carry on; a gateway restarted with Kafka
// down runs its last good config from the data dir.
func TestRemoteConfigFleet(t *testing.T) {
	const n = 10
	bin, _ := testkit.Binaries(t)
	t0 := time.Now()
	kafka := testkit.Kafka(t, 0)
	brokers := kafka.ListenAddrs()[0]
	dir := t.TempDir()
	if out, err := exec.Command(bin, "config", "keygen", "--out", filepath.Join(dir, "keys")).CombinedOutput(); err != nil {
		t.Fatalf("config keygen: %v\n%s", err, out)
	}
	keyFile, pubFile := filepath.Join(dir, "keys", "config.key"), filepath.Join(dir, "keys", "config.pub")

	// One simulated LLRP reader per gateway; on each, a tag moves between
	// antenna 1 and antenna 2 every 3 s, over and over.
	var sim strings.Builder
	sim.WriteString("loop: true\nreaders:\n")
	ports := make([]int, n)
	for i := range ports {
		ports[i] = testkit.FreePort(t)
		fmt.Fprintf(&sim, "  - {id: sim-%d, kind: llrp, listen: \"127.0.0.1:%d\", antennas: 2}\n", i, ports[i])
	}
	sim.WriteString("tags:\n")
	for i := range ports {
		fmt.Fprintf(&sim, `  - epc: 3034F0E58E0E19383514%04X
    steps:
      - {at: 0s, for: 3s, reader: sim-%d, antenna: 1, rssi: -50, rate: 10}
      - {at: 3.2s, for: 3s, reader: sim-%d, antenna: 2, rssi: -50, rate: 10}
`, i, i, i)
	}
	simFile := filepath.Join(dir, "sim.yaml")
	os.WriteFile(simFile, []byte(sim.String()), 0o644)
	simProc := testkit.Start(t, nil, bin, "sim", "--scenario", simFile)
	testkit.WaitFor(t, 30*time.Second, "the simulated readers", func() bool {
		return strings.Count(simProc.Output(), "sim reader ") == n
	})

	events := watchFleet(t, brokers)
	gws := make([]*fleetGateway, n)
	for i := range gws {
		g := &fleetGateway{id: fmt.Sprintf("gw-%d", i), cfg: filepath.Join(dir, fmt.Sprintf("gw-%d.yaml", i))}
		port := testkit.FreePort(t)
		g.http = fmt.Sprintf("http://127.0.0.1:%d", port)
		os.WriteFile(g.cfg, []byte(fmt.Sprintf(`gateway: {id: %s, data_dir: "%s"}
readers:
  - {id: dock, type: llrp, address: "127.0.0.1:%d"}
zones:
  - {id: rack-old-1, kind: rack, antennas: [{reader: dock, antennas: [1]}]}
  - {id: rack-old-2, kind: rack, antennas: [{reader: dock, antennas: [2]}]}
%suplink: {kafka: {brokers: ["%s"], heartbeat: 1s}}
http: {listen: "127.0.0.1:%d"}
remote_config: {public_keys: ["%s"], rollback_after: 4s}
`, g.id, filepath.Join(dir, g.id), ports[i], scaledEdge, brokers, port, pubFile)), 0o644)
		g.proc = testkit.Start(t, nil, bin, "run", "--config", g.cfg, "--log-format", "text")
		gws[i] = g
	}
	for _, g := range gws {
		testkit.WaitFor(t, 60*time.Second, g.id+" reader online and moves on the old zones", func() bool {
			return g.readerOnline() && events.count(g.id) > 0
		})
		if z := events.after(g.id, 0)[0]; !strings.HasPrefix(z, "rack-old-") {
			t.Fatalf("%s: first move to %q before any push", g.id, z)
		}
	}

	// 1. A new zone set for every gateway.
	push := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"config", "push", "--brokers", brokers, "--key", keyFile}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("config push %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	zonesFile := filepath.Join(dir, "new-zones.yaml")
	os.WriteFile(zonesFile, []byte(`zones:
  - {id: rack-new-1, kind: rack, row: N, antennas: [{reader: dock, antennas: [1]}]}
  - {id: rack-new-2, kind: rack, row: N, antennas: [{reader: dock, antennas: [2]}]}
`), 0o644)
	t.Logf("10 gateways up with their readers: %s", time.Since(t0).Round(100*time.Millisecond))
	t1 := time.Now()
	out := push("--all", "--file", zonesFile)
	if !strings.Contains(out, "pushed version 1 for every gateway") {
		t.Fatalf("push output: %s", out)
	}
	var hash string
	marks := map[string]int{}
	for _, g := range gws {
		testkit.WaitFor(t, 60*time.Second, g.id+" to apply version 1", func() bool {
			v := g.view(t)
			return v.Result == remoteconfig.ResultApplied && v.Version == 1
		})
		v := g.view(t)
		if hash == "" {
			hash = v.Hash
		}
		if v.Hash != hash || v.FleetVersion != 1 || strings.Join(v.Sections, ",") != "zones" {
			t.Errorf("%s runs %+v, want fleet version 1 hash %s", g.id, v, hash)
		}
		marks[g.id] = events.count(g.id)
	}
	t.Logf("fleet push applied on all 10 (health gate 4s): %s after the push", time.Since(t1).Round(100*time.Millisecond))
	for _, g := range gws {
		testkit.WaitFor(t, 30*time.Second, g.id+" moves on the new zones", func() bool {
			for _, z := range events.after(g.id, marks[g.id]) {
				if strings.HasPrefix(z, "rack-new-") {
					return true
				}
			}
			return false
		})
	}

	// The field doctor sees the topic and what is pushed for the gateway.
	doctor, _ := exec.Command(bin, "check", "--config", gws[5].cfg, "--timeout", "5s").CombinedOutput()
	if out := string(doctor); !strings.Contains(out, "ok    remote config topic rfid.gateway-config: 1 partition(s), 1 message(s); pushed for all: version 1, for gw-5: none") {
		t.Errorf("rfidgw check does not show the config topic:\n%s", out)
	}

	// 2. Three bad pushes.
	t2 := time.Now()
	priv, err := remoteconfig.LoadPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	value, err := remoteconfig.Sign(priv, remoteconfig.Payload{Target: "gw-0", Version: 40, Config: "zones: []\n"})
	if err != nil {
		t.Fatal(err)
	}
	var env remoteconfig.Envelope
	json.Unmarshal(value, &env)
	sig, _ := base64.StdEncoding.DecodeString(env.Signature)
	sig[10] ^= 1
	env.Signature = base64.StdEncoding.EncodeToString(sig)
	value, _ = json.Marshal(env)
	pcl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	if err := pcl.ProduceSync(context.Background(), &kgo.Record{Topic: remoteconfig.DefaultTopic, Key: []byte("gw-0"), Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pcl.Close()
	badZone := filepath.Join(dir, "bad-zone.yaml")
	os.WriteFile(badZone, []byte("zones:\n  - {id: rack-x, kind: rack, antennas: [{reader: dock-99, antennas: [1]}]}\n"), 0o644)
	push("--gateway", "gw-1", "--file", badZone)
	deadReader := filepath.Join(dir, "dead-reader.yaml")
	os.WriteFile(deadReader, []byte(fmt.Sprintf("readers:\n  - {id: dock, type: llrp, address: \"127.0.0.1:%d\"}\n", testkit.FreePort(t))), 0o644)
	push("--gateway", "gw-2", "--file", deadReader)

	want := map[string][2]string{
		"gw-0": {remoteconfig.ResultRejected, remoteconfig.ReasonBadSignature},
		"gw-1": {remoteconfig.ResultRejected, remoteconfig.ReasonInvalid},
		"gw-2": {remoteconfig.ResultRolledBack, remoteconfig.ReasonReaderLost},
	}
	for id, w := range want {
		g := gws[id[3]-'0']
		testkit.WaitFor(t, 60*time.Second, fmt.Sprintf("%s to report %s %s", id, w[0], w[1]), func() bool {
			v := g.view(t)
			return v.Result == w[0] && v.Reason == w[1]
		})
		if v := g.view(t); v.Version != 1 || v.Hash != hash {
			t.Errorf("%s after a bad push runs version %d hash %s, want the last good 1 %s", id, v.Version, v.Hash, hash)
		}
	}
	t.Logf("bad pushes reported (rejected, rejected, rolled back): %s after the first of them", time.Since(t2).Round(100*time.Millisecond))
	if d := gws[1].view(t).Detail; !strings.Contains(d, `unknown reader "dock-99"`) {
		t.Errorf("gw-1 detail does not name the problem: %s", d)
	}
	// gw-2 has its reader back, and every gateway still moves on the new zones.
	testkit.WaitFor(t, 30*time.Second, "gw-2 reader back online after the rollback", gws[2].readerOnline)
	for _, g := range gws {
		mark := events.count(g.id)
		testkit.WaitFor(t, 30*time.Second, g.id+" still moves on the new zones", func() bool {
			for _, z := range events.after(g.id, mark) {
				if strings.HasPrefix(z, "rack-new-") {
					return true
				}
			}
			return false
		})
		if _, bad := want[g.id]; bad {
			continue
		}
		if v := g.view(t); v.Result != remoteconfig.ResultApplied || v.Version != 1 || v.ResultVersion != 1 || v.Reason != "" {
			t.Errorf("%s was touched by another gateway's push: %+v", g.id, v)
		}
	}
	// The fleet view from the status topic.
	var lines []string
	testkit.WaitFor(t, 30*time.Second, "config status to list every gateway with its result", func() bool {
		out, err := exec.Command(bin, "config", "status", "--brokers", brokers).Output()
		if err != nil {
			return false
		}
		lines = strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != n {
			return false
		}
		for i, l := range lines {
			f := strings.Fields(l)
			res, reason := remoteconfig.ResultApplied, "-"
			if w, ok := want[fmt.Sprintf("gw-%d", i)]; ok {
				res, reason = w[0], w[1]
			}
			if len(f) != 6 || f[0] != fmt.Sprintf("gw-%d", i) || f[1] != "1" || f[2] != hash || f[3] != res || f[4] != reason {
				return false
			}
			if _, err := time.Parse(time.RFC3339, f[5]); err != nil {
				return false
			}
		}
		return true
	})

	// 3. A local zone edit and SIGHUP on gw-4: the pushed zones win over
	// the local file's.
	g := gws[4]
	body, _ := os.ReadFile(g.cfg)
	local := strings.Replace(string(body), "rack-old-1", "rack-local-1", 1)
	os.WriteFile(g.cfg, []byte(local), 0o644)
	g.proc.Cmd.Process.Signal(syscall.SIGHUP)
	testkit.WaitFor(t, 20*time.Second, "gw-4 to reload", func() bool {
		return strings.Contains(g.proc.Output(), "reload done") && strings.Contains(g.proc.Output(), "pushed sections win over the local file's")
	})
	testkit.WaitFor(t, 20*time.Second, "gw-4 zone page to show the pushed zones", func() bool {
		_, body := get(t, g.http+"/api/zones", "")
		return strings.Contains(body, "rack-new-1") && !strings.Contains(body, "rack-local-1")
	})
	if v := g.view(t); v.Version != 1 || v.Result != remoteconfig.ResultApplied {
		t.Errorf("gw-4 after SIGHUP: %+v", v)
	}

	// 4. A gateway restarted while Kafka is down runs its last good config.
	g = gws[3]
	if err := g.proc.Stop(t, 20*time.Second); err != nil {
		t.Fatalf("%s stop: %v", g.id, err)
	}
	kafka.Close()
	g.proc = testkit.Start(t, nil, bin, "run", "--config", g.cfg, "--log-format", "text")
	testkit.WaitFor(t, 30*time.Second, g.id+" back without Kafka on version 1 with its reader", func() bool {
		v, err := g.tryView()
		return err == nil && v.Version == 1 && g.readerOnline()
	})
	if v := g.view(t); v.Hash != hash || v.Result != remoteconfig.ResultApplied {
		t.Errorf("%s after a restart without Kafka: %+v", g.id, v)
	}
	testkit.WaitFor(t, 30*time.Second, g.id+" moves on the new zones into its buffer", func() bool {
		_, body := get(t, g.http+"/api/events", "")
		return strings.Contains(body, "rack-new-")
	})
	if _, body := get(t, g.http+"/api/zones", ""); !strings.Contains(body, "rack-new-1") || strings.Contains(body, "rack-old-1") {
		t.Errorf("%s zones after the restart: %s", g.id, body)
	}
}

// TestConfigToolsRefuse: the tools refuse what they must before touching
// Kafka, with exit 2 and a message naming the problem.
func TestConfigToolsRefuse(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if out, err := exec.Command(bin, "config", "keygen", "--out", keys).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	uplinkFile := filepath.Join(dir, "uplink.yaml")
	os.WriteFile(uplinkFile, []byte("uplink: {kafka: {brokers: [evil:9092]}}\nzones: []\n"), 0o644)
	dead := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	cfg := gatewayConfig(t, dir, demoReads(), dead, 0)
	body, _ := os.ReadFile(cfg)
	badKeyCfg := filepath.Join(dir, "badkey.yaml")
	os.WriteFile(badKeyCfg, append(body, []byte("remote_config: {public_keys: ["+filepath.Join(keys, "config.key")+"]}\n")...), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"second keygen", []string{"config", "keygen", "--out", keys}, "already exists"},
		{"local-only section", []string{"config", "push", "--brokers", dead, "--all", "--file", uplinkFile, "--key", filepath.Join(keys, "config.key")}, "uplink: only zones, filter, edge, readers can be changed remotely"},
		{"no target", []string{"config", "push", "--brokers", dead, "--file", uplinkFile, "--key", filepath.Join(keys, "config.key")}, "--gateway G or --all is required"},
		{"public key as signing key", []string{"config", "push", "--brokers", dead, "--all", "--file", uplinkFile, "--key", filepath.Join(keys, "config.pub")}, "want \"PRIVATE KEY\""},
		{"bad gateway id", []string{"config", "push", "--brokers", dead, "--gateway", "Floor 3", "--file", demoReads(), "--key", filepath.Join(keys, "config.key")}, ""},
		{"private key in public_keys", []string{"check", "--config", badKeyCfg, "--config-only"}, "remote_config.public_keys[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, tc.args...).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %v, want 2 naming %q:\n%s", err, tc.want, out)
			}
		})
	}
}
