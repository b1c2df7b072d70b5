package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/testkit"
)

// fakeNotify is a NOTIFY_SOCKET that collects what the daemon sends.
type fakeNotify struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func newFakeNotify(t *testing.T) *fakeNotify {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdn") // short path: unix socket names are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fakeNotify{path: filepath.Join(dir, "notify")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: f.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			f.mu.Lock()
			f.msgs = append(f.msgs, string(buf[:n]))
			f.mu.Unlock()
		}
	}()
	return f
}

func (f *fakeNotify) count(substr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

func (f *fakeNotify) last(substr string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.msgs) - 1; i >= 0; i-- {
		if strings.Contains(f.msgs[i], substr) {
			return f.msgs[i]
		}
	}
	return ""
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDaemonOperations runs the real daemon under a fake systemd notify
// socket with the watchdog on and a token-protected HTTP listener, then
// reloads it with a bad and a good config while it keeps delivering.
func TestDaemonOperations(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	kafka := testkit.Kafka(t, 0)
	brokers := kafka.ListenAddrs()[0]
	dir := t.TempDir()
	httpPort := testkit.FreePort(t)
	cfg := gatewayConfig(t, dir, demoReads(), brokers, httpPort)
	token := "s3cret-token"
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	base, _ := os.ReadFile(cfg)
	good := strings.Replace(string(base), fmt.Sprintf("listen: 127.0.0.1:%d", httpPort),
		fmt.Sprintf("listen: 127.0.0.1:%d\n  token_file: %s", httpPort, tokenFile), 1)
	// Play slowly enough that the reload happens while reads still arrive.
	good = strings.Replace(good, "speed: 0", "speed: 40", 1)
	os.WriteFile(cfg, []byte(good), 0o644)

	notify := newFakeNotify(t)
	gw := testkit.Start(t, []string{"NOTIFY_SOCKET=" + notify.path, "WATCHDOG_USEC=400000"},
		bin, "run", "--config", cfg, "--log-format", "json")
	testkit.WaitFor(t, 20*time.Second, "READY=1 on the notify socket", func() bool { return notify.count("READY=1") > 0 })
	testkit.WaitFor(t, 5*time.Second, "watchdog pings", func() bool { return notify.count("WATCHDOG=1") >= 3 })
	if st := notify.last("STATUS="); !strings.Contains(st, "buffer") || !strings.Contains(st, "events") {
		t.Errorf("STATUS line %q does not show the buffer", st)
	}

	base0 := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	if code, _ := get(t, base0+"/healthz", ""); code != 200 {
		t.Errorf("/healthz without token: %d, want 200", code)
	}
	if code, _ := get(t, base0+"/metrics", ""); code != 401 {
		t.Errorf("/metrics without token: %d, want 401", code)
	}
	if code, _ := get(t, base0+"/metrics", "wrong"); code != 401 {
		t.Errorf("/metrics with a wrong token: %d, want 401", code)
	}
	if code, body := get(t, base0+"/readyz", token); code != 200 {
		t.Errorf("/readyz: %d %s", code, body)
	}
	code, metrics := get(t, base0+"/metrics", token)
	if code != 200 {
		t.Fatalf("/metrics with token: %d", code)
	}
	for _, name := range []string{
		`rfidgw_reads_total{reader="dock-1"}`, `rfidgw_events_total{type="inward"}`, `rfidgw_events_total{type="gap"}`,
		"rfidgw_buffer_events ", "rfidgw_buffer_bytes ", "rfidgw_uplink_delivered_total ", `rfidgw_uplink_errors_total{kind="delivery"}`,
		"rfidgw_events_dropped_total ", "rfidgw_uplink_lag_seconds ", "go_goroutines ", "process_resident_memory_bytes ",
	} {
		if !strings.Contains(metrics, "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// A bad config is rejected with check's message and the daemon goes on.
	bad := strings.Replace(good, "outside: [{reader: dock-1,", "outside: [{reader: dock-7,", 1)
	os.WriteFile(cfg, []byte(bad), 0o644)
	gw.Cmd.Process.Signal(syscall.SIGHUP)
	testkit.WaitFor(t, 10*time.Second, "the bad reload to be rejected", func() bool {
		return strings.Contains(gw.Output(), "reload rejected") && strings.Contains(gw.Output(), `unknown reader \"dock-7\"`)
	})
	// A good config with a changed zone set is taken.
	changed := strings.Replace(good, "  dwell: 5s\n", "  dwell: 4s\n", 1)
	changed = strings.Replace(changed, "  - id: rack-A04\n", "  - id: rack-A04-new\n", 1)
	os.WriteFile(cfg, []byte(changed), 0o644)
	gw.Cmd.Process.Signal(syscall.SIGHUP)
	testkit.WaitFor(t, 10*time.Second, "the good reload", func() bool { return strings.Contains(gw.Output(), "reload done") })
	select {
	case <-gw.Exited():
		t.Fatalf("daemon exited during reloads:\n%s", gw.Output())
	default:
	}
	// The events still all arrive, once each.
	got := testkit.Consume(t, brokers, "rfid.movements", len(demoExpected), 60*time.Second)
	checkDemoEvents(t, got)
	if err := gw.Stop(t, 20*time.Second); err != nil {
		t.Errorf("daemon exit: %v", err)
	}
	if notify.count("STOPPING=1") == 0 {
		t.Error("no STOPPING=1 at shutdown")
	}
}

// TestCheckAsFieldDoctor: `rfidgw check` against simulated readers of all
// three kinds, a real Mosquitto and Kafka prints one ok line per dependency
// and exits 0; with Kafka gone it prints FAIL with a fix and exits 1.
func TestCheckAsFieldDoctor(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	broker := testkit.StartMosquitto(t)
	kafka := testkit.Kafka(t, 0)
	dir := t.TempDir()
	llrpAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	link := filepath.Join(dir, "ttyRack")
	simFile := filepath.Join(dir, "sim.yaml")
	os.WriteFile(simFile, []byte(fmt.Sprintf(`readers:
  - {id: dock-1, kind: llrp, listen: "%s", antennas: 4}
  - {id: rack-row-a, kind: serial, protocol: thingmagic, link: "%s"}
  - {id: rack-row-b, kind: mqtt, broker: "%s", topic: readers/rack-row-b/events, format: impinj}
tags: [{epc: E2801160600002000000CCC3, steps: [{at: 0s, for: 1s, reader: dock-1, antenna: 1, rssi: -50}]}]
`, llrpAddr, link, broker.URL)), 0o644)
	sim := testkit.Start(t, nil, bin, "sim", "--scenario", simFile)
	testkit.WaitFor(t, 20*time.Second, "the simulated readers", func() bool {
		return strings.Count(sim.Output(), "sim reader ") == 3
	})
	cfgFor := func(brokers string) string {
		p := filepath.Join(dir, "gw-"+strings.ReplaceAll(brokers, ":", "_")+".yaml")
		os.WriteFile(p, []byte(fmt.Sprintf(`gateway: {id: doctor, data_dir: "%s"}
readers:
  - {id: dock-1, type: llrp, address: "%s"}
  - {id: rack-row-a, type: serial, device: "%s", protocol: thingmagic}
  - {id: rack-row-b, type: mqtt, broker: "%s", topic: readers/rack-row-b/events, format: impinj}
zones:
  - {id: gate-a, kind: gate, outside: [{reader: dock-1, antennas: [1]}], inside: [{reader: dock-1, antennas: [2]}]}
  - {id: rack-A01, kind: rack, antennas: [{reader: rack-row-a, antennas: [1]}]}
  - {id: rack-B01, kind: rack, antennas: [{reader: rack-row-b, antennas: [1]}]}
uplink: {kafka: {brokers: ["%s"]}}
`, filepath.Join(dir, "data"), llrpAddr, link, broker.URL, brokers)), 0o644)
		return p
	}
	out, err := exec.Command(bin, "check", "--config", cfgFor(kafka.ListenAddrs()[0])).CombinedOutput()
	if err != nil {
		t.Fatalf("check with everything up: %v\n%s", err, out)
	}
	for _, want := range []string{"ok    config", "ok    reader dock-1 (llrp): Impinj", "ok    reader rack-row-a (serial): ThingMagic",
		"ok    reader rack-row-b (mqtt)", "ok    kafka", "ok    data_dir", "ok    clock"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	checkFitsATerminal(t, out)
	// A refused port fails at once (not after --timeout), with the
	// underlying error said once on one line.
	down := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	start := time.Now()
	out, err = exec.Command(bin, "check", "--config", cfgFor(down), "--timeout", "60s").CombinedOutput()
	took := time.Since(start)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("check with Kafka down: exit %v, want 1\n%s", err, out)
	}
	if took > 20*time.Second {
		t.Errorf("check with Kafka's port refused took %s: it should fail at once, not wait for --timeout", took)
	}
	kline := ""
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "FAIL  kafka "+down+": ") {
			kline = l
		}
	}
	if kline == "" || !strings.Contains(kline, " -> ") {
		t.Errorf("no 'FAIL  kafka %s: ... -> fix' line:\n%s", down, out)
	}
	if n := strings.Count(strings.ToLower(kline), "connection refused"); n != 1 {
		t.Errorf("the Kafka line says 'connection refused' %d times, want once: %s", n, kline)
	}
	if strings.Count(kline, down) != 1 {
		t.Errorf("the Kafka line names %s more than once: %s", down, kline)
	}
	checkFitsATerminal(t, out)
}

// checkFitsATerminal: one line per dependency (ok or FAIL), each short
// enough for a terminal (a FAIL line holds the error and the fix).
func checkFitsATerminal(t *testing.T, out []byte) {
	t.Helper()
	deps := 0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case strings.HasPrefix(l, "ok    "), strings.HasPrefix(l, "FAIL  "):
			deps++
			max := 200 // a reader line may hold a long device path
			if strings.HasPrefix(l, "FAIL  ") {
				max = 240
			}
			if len(l) > max {
				t.Errorf("check line of %d characters (want <= %d): %s", len(l), max, l)
			}
		case strings.HasPrefix(l, "rfidgw: "):
		default:
			t.Errorf("check printed a line that is neither ok nor FAIL: %q", l)
		}
	}
	if deps != 7 { // config, 3 readers, kafka, data_dir, clock
		t.Errorf("check printed %d dependency lines, want 7:\n%s", deps, out)
	}
}
