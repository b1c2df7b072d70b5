package chaos

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rfidgw/rfidgw/internal/testkit"
)

const topic = "rfid.movements"

// scenarioDir is the busy_floor scenario every run plays a slice of.
func scenarioDir() string {
	return filepath.Join(testkit.RepoRoot(), "edge", "testdata", "scenarios", "busy_floor")
}

// ---------------------------------------------------------------------------
// Scenario slices with their expected events.

// timedEvent is an event of `rfidgw replay` with its engine time.
type timedEvent struct {
	Time   time.Time
	Reduce string // the expected.jsonl form: "type EPC zone=…" etc.
	EPC    string
}

var (
	readsOnce  sync.Once
	readsLines []string // busy_floor reads, raw JSON lines
	readsTimes []time.Time
	readsErr   error
)

// loadReads decompresses busy_floor's reads once per test process.
func loadReads(t *testing.T) {
	t.Helper()
	readsOnce.Do(func() {
		f, err := os.Open(filepath.Join(scenarioDir(), "reads.jsonl.gz"))
		if err != nil {
			readsErr = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			readsErr = err
			return
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var r struct{ Time time.Time }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				readsErr = fmt.Errorf("busy_floor reads: %w", err)
				return
			}
			readsLines = append(readsLines, sc.Text())
			readsTimes = append(readsTimes, r.Time)
		}
		readsErr = sc.Err()
	})
	if readsErr != nil {
		t.Fatal(readsErr)
	}
}

// slice is the first part of busy_floor, ending with every reader going
// offline: a reader that is offline moves and departs none of its tags, so
// nothing is due after the slice's end and the gateway's events are exactly
// those `rfidgw replay` gives for the same lines.
type slice struct {
	Reads    []string // JSON lines, status lines included
	Duration time.Duration
	Start    time.Time // time of the first read
	Expected []timedEvent
}

var readerIDs = []string{"dock-1", "rack-row-a", "rack-row-b"}

// makeSlice cuts busy_floor after d of scenario time (d <= 0: all of it).
// noOutages leaves out the scenario's own reader outages (status lines):
// the gateway's reconnect backoff is not time-scaled, so at x10 a replugged
// serial module comes back tens of scenario seconds later than the reads
// say, and tags near the outage then settle or depart differently.
func makeSlice(t *testing.T, d time.Duration, noOutages bool) *slice {
	t.Helper()
	loadReads(t)
	t0 := readsTimes[0]
	cut := readsTimes[len(readsTimes)-1].Add(time.Millisecond)
	if d > 0 && t0.Add(d).Before(cut) {
		cut = t0.Add(d)
	}
	s := &slice{Start: t0, Duration: cut.Sub(t0)}
	for i, line := range readsLines {
		if noOutages && strings.Contains(line, `"status"`) {
			continue
		}
		if readsTimes[i].Before(cut) {
			s.Reads = append(s.Reads, line)
		}
	}
	for _, id := range readerIDs {
		s.Reads = append(s.Reads, statusLine(cut, id, "offline"))
	}
	return s
}

func statusLine(at time.Time, reader, status string) string {
	return fmt.Sprintf(`{"time":"%s","reader":"%s","status":"%s"}`, at.UTC().Format(time.RFC3339Nano), reader, status)
}

// expect runs `rfidgw replay` (the deterministic engine, at the recorded
// pace of the reads' own clock) over the slice's lines for its events.
func (s *slice) expect(t *testing.T, bin, dir string) {
	t.Helper()
	path := filepath.Join(dir, "replay.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(s.Reads, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "replay", "--config", filepath.Join(scenarioDir(), "zones.yaml"), "--reads", path)
	cmd.Stderr = io.Discard
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("rfidgw replay: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(stdout)), "\n") {
		if line == "" {
			continue
		}
		e, err := parseEvent([]byte(line))
		if err != nil {
			t.Fatalf("replay output: %v: %s", err, line)
		}
		s.Expected = append(s.Expected, timedEvent{Time: e.Time, Reduce: e.reduce(), EPC: e.EPCStr()})
	}
}

// addOutage inserts status lines taking reader offline at offset from the
// slice's start for dur (sim drops an LLRP client and refuses new ones,
// unplugs a serial pty).
func (s *slice) addOutage(reader string, offset, dur time.Duration) {
	s.Reads = append(s.Reads, statusLine(s.Start.Add(offset), reader, "offline"), statusLine(s.Start.Add(offset+dur), reader, "online"))
	type tl struct {
		t    time.Time
		line string
	}
	all := make([]tl, len(s.Reads))
	for i, l := range s.Reads {
		var r struct{ Time time.Time }
		json.Unmarshal([]byte(l), &r)
		all[i] = tl{r.Time, l}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	for i := range all {
		s.Reads[i] = all[i].line
	}
}

// ---------------------------------------------------------------------------
// Events as read back from Kafka.

type place struct {
	Zone string `json:"zone"`
}

// event is the part of an event the checker looks at.
type event struct {
	ID       string    `json:"id"`
	Epoch    string    `json:"epoch"`
	Seq      uint64    `json:"seq"`
	Type     string    `json:"type"`
	EPC      *string   `json:"epc"`
	Time     time.Time `json:"time"`
	Zone     *string   `json:"zone"`
	From     *place    `json:"from"`
	To       *place    `json:"to"`
	Dropped  uint64    `json:"dropped"`
	FirstSeq uint64    `json:"first_seq"`
	LastSeq  uint64    `json:"last_seq"`

	Raw       string `json:"-"`
	Partition int32  `json:"-"`
	Offset    int64  `json:"-"`
}

func parseEvent(b []byte) (event, error) {
	var e event
	err := json.Unmarshal(b, &e)
	e.Raw = string(b)
	return e, err
}

func (e event) EPCStr() string {
	if e.EPC == nil {
		return ""
	}
	return *e.EPC
}

// reduce gives the expected.jsonl form of an event (edge/testdata/scenarios/README.md).
func (e event) reduce() string {
	z := func(p *place) string {
		if p == nil {
			return "null"
		}
		return p.Zone
	}
	s := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	switch e.Type {
	case "inward", "outward":
		return fmt.Sprintf("%s %s zone=%s", e.Type, e.EPCStr(), s(e.Zone))
	case "rack_move":
		return fmt.Sprintf("%s %s from=%s to=%s", e.Type, e.EPCStr(), z(e.From), z(e.To))
	case "rack_depart":
		return fmt.Sprintf("%s %s from=%s", e.Type, e.EPCStr(), z(e.From))
	}
	return e.Type + " " + e.EPCStr()
}

// collector reads the movement topic from the beginning for the whole run,
// so events survive a broker that loses its log.
type collector struct {
	mu     sync.Mutex
	events []event
	bad    []string
	cancel context.CancelFunc
	done   chan struct{}
}

func startCollector(t *testing.T, brokers string) *collector {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				e, err := parseEvent(r.Value)
				e.Partition, e.Offset = r.Partition, r.Offset
				c.mu.Lock()
				if err != nil {
					c.bad = append(c.bad, fmt.Sprintf("%d@%d: %v: %s", r.Partition, r.Offset, err, r.Value))
				} else {
					c.events = append(c.events, e)
				}
				c.mu.Unlock()
			})
		}
	}()
	t.Cleanup(c.stop)
	return c
}

func (c *collector) stop() {
	c.cancel()
	<-c.done
}

func (c *collector) snapshot() []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event(nil), c.events...)
}

// has reports whether every seq 1..last arrived or is covered by a gap event.
func (c *collector) has(last uint64) bool {
	seen := map[uint64]bool{}
	for _, e := range c.snapshot() {
		seen[e.Seq] = true
		if e.Type == "gap" {
			for s := e.FirstSeq; s <= e.LastSeq && s > 0; s++ {
				seen[s] = true
			}
		}
	}
	for s := uint64(1); s <= last; s++ {
		if !seen[s] {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Processes.

// kafkaBroker is a devkafka process on a fixed loopback port, so it can be
// stopped and started again where the gateway expects it.
type kafkaBroker struct {
	t       *testing.T
	bin     string
	port    int
	dataDir string // empty: in memory, a restart loses the log
	proc    *testkit.Process
}

func (k *kafkaBroker) addr() string { return fmt.Sprintf("127.0.0.1:%d", k.port) }

func (k *kafkaBroker) start() {
	k.t.Helper()
	args := []string{"--listen", k.addr()}
	if k.dataDir != "" {
		args = append(args, "--data-dir", k.dataDir, "--sync")
	}
	k.proc = testkit.Start(k.t, nil, k.bin, args...)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", k.addr(), 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		select {
		case <-k.proc.Exited():
			k.t.Fatalf("devkafka exited: %v\n%s", k.proc.Err, k.proc.Output())
		case <-time.After(100 * time.Millisecond):
		}
	}
	k.t.Fatalf("devkafka did not listen on %s", k.addr())
}

// stop ends the broker (SIGINT: it closes its log) — Kafka unreachable.
func (k *kafkaBroker) stop() {
	if k.proc != nil {
		k.proc.Stop(k.t, 20*time.Second)
		k.proc = nil
	}
}

// kill ends the broker with SIGKILL.
func (k *kafkaBroker) kill() {
	if k.proc != nil {
		k.proc.Cmd.Process.Kill()
		<-k.proc.Exited()
		k.proc = nil
	}
}

// gatewayProc is `rfidgw run` across restarts, watched all the time: peak
// RSS, uplink lag, and any exit we did not cause.
type gatewayProc struct {
	t       *testing.T
	bin     string
	cfg     string
	metrics string // http://…/metrics
	ready   string // http://…/readyz

	mu         sync.Mutex
	proc       *testkit.Process
	expectExit bool
	kills      int
	starts     int
	peakRSSkB  int64
	maxLag     float64
	badExits   []string
	logs       []string // output of ended incarnations (last few)
	stopWatch  chan struct{}
	watchDone  chan struct{}
}

func (g *gatewayProc) start() {
	g.t.Helper()
	p := testkit.Start(g.t, nil, g.bin, "run", "--config", g.cfg, "--log-format", "text")
	g.mu.Lock()
	g.proc, g.expectExit = p, false
	g.starts++
	g.stopWatch, g.watchDone = make(chan struct{}), make(chan struct{})
	stopWatch, watchDone := g.stopWatch, g.watchDone
	g.mu.Unlock()
	go g.watch(p, stopWatch, watchDone)
}

// watch samples VmHWM and the lag metric and notices unexpected exits.
func (g *gatewayProc) watch(p *testkit.Process, stop, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	pid := p.Cmd.Process.Pid
	for {
		select {
		case <-stop:
			return
		case <-p.Exited():
			g.mu.Lock()
			if !g.expectExit {
				g.badExits = append(g.badExits, fmt.Sprintf("gateway pid %d exited by itself: %v; last output:\n%s", pid, p.Err, lastLines(p.Output(), 40)))
			}
			g.mu.Unlock()
			return
		case <-tick.C:
			if kb := vmHWM(pid); kb > 0 {
				g.mu.Lock()
				if kb > g.peakRSSkB {
					g.peakRSSkB = kb
				}
				g.mu.Unlock()
			}
			if v, ok := testkit.Metric(g.metrics, "rfidgw_uplink_lag_seconds"); ok {
				g.mu.Lock()
				if v > g.maxLag {
					g.maxLag = v
				}
				g.mu.Unlock()
			}
		}
	}
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

func (g *gatewayProc) keepLog(p *testkit.Process) {
	g.logs = append(g.logs, p.Output())
	if len(g.logs) > 3 {
		g.logs = g.logs[1:]
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (g *gatewayProc) kill() {
	g.mu.Lock()
	p := g.proc
	g.expectExit = true
	g.mu.Unlock()
	// Read the high-water mark last thing before the kill.
	if kb := vmHWM(p.Cmd.Process.Pid); kb > 0 {
		g.mu.Lock()
		g.peakRSSkB = max(g.peakRSSkB, kb)
		g.mu.Unlock()
	}
	p.Cmd.Process.Kill()
	<-p.Exited()
	<-g.watchDone
	g.mu.Lock()
	g.kills++
	g.keepLog(p)
	g.mu.Unlock()
}

// stop ends the gateway with SIGTERM; a clean stop must exit 0.
func (g *gatewayProc) stop() {
	g.mu.Lock()
	p := g.proc
	g.expectExit = true
	g.mu.Unlock()
	if kb := vmHWM(p.Cmd.Process.Pid); kb > 0 {
		g.mu.Lock()
		g.peakRSSkB = max(g.peakRSSkB, kb)
		g.mu.Unlock()
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Exited():
	case <-time.After(30 * time.Second):
		g.mu.Lock()
		g.badExits = append(g.badExits, "gateway did not stop within 30 s of SIGTERM (hang); killed")
		g.mu.Unlock()
		p.Cmd.Process.Kill()
		<-p.Exited()
	}
	<-g.watchDone
	g.mu.Lock()
	if p.Err != nil && len(g.badExits) == 0 {
		g.badExits = append(g.badExits, fmt.Sprintf("gateway stopped by SIGTERM exited with %v; last output:\n%s", p.Err, lastLines(p.Output(), 40)))
	}
	g.keepLog(p)
	g.mu.Unlock()
}

func (g *gatewayProc) signal(sig os.Signal) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.proc.Cmd.Process.Signal(sig)
}

func (g *gatewayProc) output() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.proc.Output()
}

// alive reports whether the current incarnation still runs.
func (g *gatewayProc) alive() bool {
	g.mu.Lock()
	p := g.proc
	g.mu.Unlock()
	select {
	case <-p.Exited():
		return false
	default:
		return true
	}
}

// readyz returns the HTTP status of /readyz (0 when it does not answer).
func (g *gatewayProc) readyz() int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(g.ready)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (g *gatewayProc) metric(name string) (float64, bool) { return testkit.Metric(g.metrics, name) }

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(ansi.ReplaceAllString(s, ""), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// bufferStats runs `rfidgw buffer stats` on a stopped gateway's data dir.
func bufferStats(t *testing.T, bin, dataDir string) (pending, lastSeq uint64, out string) {
	t.Helper()
	b, err := exec.Command(bin, "buffer", "stats", "--data-dir", dataDir).CombinedOutput()
	out = string(b)
	if err != nil {
		t.Errorf("rfidgw buffer stats: %v\n%s", err, b)
		return 0, 0, out
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "pending events") && len(f) >= 3:
			pending, _ = strconv.ParseUint(f[2], 10, 64)
		case strings.HasPrefix(line, "last seq") && len(f) >= 3:
			lastSeq, _ = strconv.ParseUint(f[2], 10, 64)
		}
	}
	return pending, lastSeq, out
}

// quietWindows returns up to n offsets (scenario time) where a reader behind
// zone can be away for dur without changing the scenario's events: no event
// of the zone from 10 s before to dur + lost_after (60 s) + 15 s after, since
// a tag neither settles nor departs while its reader is offline.
func (s *slice) quietWindows(zone string, dur time.Duration, n int) []time.Duration {
	var out []time.Duration
	for x := s.Duration * 15 / 100; x < s.Duration*85/100 && len(out) < n; x += time.Second {
		from, to := s.Start.Add(x-10*time.Second), s.Start.Add(x+dur+75*time.Second)
		ok := true
		for _, e := range s.Expected {
			if strings.Contains(e.Reduce, zone) && e.Time.After(from) && e.Time.Before(to) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, x)
			x += dur + 10*time.Second
		}
	}
	return out
}
