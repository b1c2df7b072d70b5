package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/testkit"
)

// runOpts describe one fault run.
type runOpts struct {
	name  string
	slice time.Duration // part of busy_floor to play (0: all of it)
	scale float64       // sim speed; the edge timings are divided by it
	// exact: no input is lost, so the scenario's events must all arrive
	// (minus exactly what gap events report). Otherwise only the buffer's
	// invariants are checked.
	exact        bool
	kafkaMemory  bool   // devkafka without --data-dir (a restart loses the log)
	kafkaLate    bool   // Kafka is down when the run starts; the fault starts it
	bufferYAML   string // e.g. "buffer: {max_bytes: 4KiB, on_full: reject_new}\n"
	librdkafka   string // e.g. "{message.timeout.ms: \"2000\"}"
	dataDir      string // data_dir (default a temp dir)
	garbage      float64
	outages      []readerOutage
	zonesAlt     bool          // write the alternative zone set too (SIGHUP run)
	drainTimeout time.Duration // how long the backlog may take to reach Kafka at the end
	fault        func(r *run)
	// knownBug marks a run that fails because of a product bug described
	// in chaos/FINDINGS.md; the check stays so the fix can be proven.
	knownBug string
}

type readerOutage struct {
	reader      string
	offset, dur time.Duration // scenario time
}

// run is one fault run in progress.
type run struct {
	t      *testing.T
	opts   runOpts
	bin    string
	dir    string
	slice  *slice
	kafka  *kafkaBroker
	mqtt   *testkit.Mosquitto
	col    *collector
	gw     *gatewayProc
	sim    *testkit.Process
	cfg    string
	cfgA   string // the zone sets of the SIGHUP run
	cfgB   string
	data   string
	played time.Time // wall time the playback started
	wall   time.Duration
	notes  []string

	mqttRestarts int
}

// at sleeps until frac of the playback's wall time has passed.
func (r *run) at(frac float64) {
	d := time.Until(r.played.Add(time.Duration(frac * float64(r.wall))))
	if d > 0 {
		time.Sleep(d)
	}
}

func (r *run) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func scaleDur(d time.Duration, scale float64) string {
	return fmt.Sprintf("%dms", int64(float64(d)/scale/float64(time.Millisecond)))
}

// zonesPart returns the zones: section of a scenario config.
func zonesPart(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "\nzones:"), strings.Index(s, "\nedge:")
	if i < 0 || j < i {
		t.Fatalf("%s: no zones: section before edge:", path)
	}
	return s[i+1 : j+1]
}

var zoneTiming = regexp.MustCompile(`\b(presence_window|dwell|lost_after|gate_window): *(\d+)s\b`)

// scaleZones divides the timing overrides of zones by scale, like the edge
// defaults (a gate's own gate_window: 10s would otherwise be 10x too long).
func scaleZones(zones string, scale float64) string {
	return zoneTiming.ReplaceAllStringFunc(zones, func(m string) string {
		p := zoneTiming.FindStringSubmatch(m)
		n, _ := strconv.Atoi(p[2])
		return p[1] + ": " + scaleDur(time.Duration(n)*time.Second, scale)
	})
}

// execute sets up the binaries, plays the slice with the fault, drains,
// checks and records the run's row.
func execute(t *testing.T, o runOpts) *row {
	if o.scale == 0 {
		o.scale = 10
	}
	if o.drainTimeout == 0 {
		o.drainTimeout = 90 * time.Second
	}
	bin, devkafka := testkit.Binaries(t)
	r := &run{t: t, opts: o, bin: bin, dir: t.TempDir()}
	r.slice = makeSlice(t, o.slice, o.exact)
	for _, out := range o.outages {
		r.slice.addOutage(out.reader, out.offset, out.dur)
	}
	r.slice.expect(t, bin, r.dir)
	r.wall = time.Duration(float64(r.slice.Duration) / o.scale)
	r.mqtt = testkit.StartMosquitto(t)
	r.kafka = &kafkaBroker{t: t, bin: devkafka, port: testkit.FreePort(t)}
	if !o.kafkaMemory {
		r.kafka.dataDir = filepath.Join(r.dir, "kafka")
	}
	if !o.kafkaLate {
		r.kafka.start()
	}
	r.col = startCollector(t, r.kafka.addr())

	reads := filepath.Join(r.dir, "reads.jsonl")
	if err := os.WriteFile(reads, []byte(strings.Join(r.slice.Reads, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	llrpAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	link := filepath.Join(r.dir, "dev", "serial", "by-id", "usb-ThingMagic_M6e-if00")
	simFile := filepath.Join(r.dir, "sim.yaml")
	garbage := ""
	if o.garbage > 0 {
		garbage = fmt.Sprintf("garbage: %g\n", o.garbage)
	}
	os.WriteFile(simFile, []byte(fmt.Sprintf(`readers:
  - {id: dock-1, kind: llrp, listen: "%s", antennas: 4}
  - {id: rack-row-a, kind: serial, protocol: thingmagic, link: "%s"}
  - {id: rack-row-b, kind: mqtt, broker: "%s", topic: readers/rack-row-b/events, status_topic: readers/rack-row-b/status, format: impinj}
reads: %s
speed: %g
start_delay: 3s
%s`, llrpAddr, link, r.mqtt.URL, reads, o.scale, garbage)), 0o644)

	r.data = o.dataDir
	if r.data == "" {
		r.data = filepath.Join(r.dir, "data")
	}
	httpPort := testkit.FreePort(t)
	edgeYAML := fmt.Sprintf("edge: {min_rssi: -75, min_reads: 2, presence_window: %s, dwell: %s, hysteresis_db: 6, lost_after: %s, gate_window: %s}\n",
		scaleDur(3*time.Second, o.scale), scaleDur(5*time.Second, o.scale), scaleDur(60*time.Second, o.scale), scaleDur(10*time.Second, o.scale))
	lib := ""
	if o.librdkafka != "" {
		lib = ", librdkafka: " + o.librdkafka
	}
	config := func(zones string) string {
		return fmt.Sprintf(`gateway: {id: chaos, data_dir: "%s"}
readers:
  - {id: dock-1, type: llrp, address: "%s", keepalive: 1s}
  - {id: rack-row-a, type: serial, device: "%s", protocol: thingmagic}
  - {id: rack-row-b, type: mqtt, broker: "%s", topic: readers/rack-row-b/events, status_topic: readers/rack-row-b/status, format: impinj}
%s%s%suplink: {kafka: {brokers: ["%s"]%s}}
http: {listen: "127.0.0.1:%d"}
log: {level: info}
`, r.data, llrpAddr, link, r.mqtt.URL, zones, edgeYAML, o.bufferYAML, r.kafka.addr(), lib, httpPort)
	}
	r.cfg = filepath.Join(r.dir, "gateway.yaml")
	r.cfgA = config(scaleZones(zonesPart(t, filepath.Join(scenarioDir(), "zones.yaml")), o.scale))
	if o.zonesAlt {
		r.cfgB = config(scaleZones(zonesPart(t, filepath.Join(scenarioDir(), "..", "config_reload", "zones_reordered.yaml")), o.scale))
	}
	os.WriteFile(r.cfg, []byte(r.cfgA), 0o644)

	r.sim = testkit.Start(t, nil, bin, "sim", "--scenario", simFile, "--log-format", "text")
	testkit.WaitFor(t, 30*time.Second, "the simulated readers", func() bool {
		return strings.Count(r.sim.Output(), "sim reader ") == 3
	})
	r.played = time.Now().Add(3 * time.Second)
	r.gw = &gatewayProc{t: t, bin: bin, cfg: r.cfg,
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort),
		ready:   fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort)}
	r.gw.start()

	if o.fault != nil {
		o.fault(r)
	}
	testkit.WaitFor(t, r.wall+3*time.Minute, "the end of the scenario", func() bool {
		return strings.Contains(r.sim.Output(), "scenario played")
	})
	playedEnd := time.Now()
	if o.garbage > 0 {
		// The run proves nothing unless malformed frames were really sent.
		m := regexp.MustCompile(`scenario played" reads=\d+ garbage=(\d+)`).FindStringSubmatch(r.sim.Output())
		if m == nil || m[1] == "0" {
			r.note("sim sent no malformed frames: %q", m)
		} else {
			t.Logf("sim sent %s malformed frames/payloads", m[1])
		}
	}
	// The slice ends with every reader offline, so nothing more is due.
	time.Sleep(time.Until(playedEnd.Add(time.Second)))

	if !r.gw.alive() {
		r.gw.start()
	}
	if r.kafka.proc == nil {
		r.kafka.start()
	}
	// Drain: the buffer empties into Kafka (events after the cut-off still
	// come, so wait for two empty samples a second apart).
	deadline := time.Now().Add(o.drainTimeout)
	empty := 0
	for empty < 2 && time.Now().Before(deadline) {
		if v, ok := r.gw.metric("rfidgw_buffer_events"); ok && v == 0 {
			empty++
		} else {
			empty = 0
		}
		time.Sleep(time.Second)
	}
	if empty < 2 {
		r.note("buffer not drained within %s", o.drainTimeout)
	}
	droppedMetric, _ := r.gw.metric("rfidgw_events_dropped_total")
	r.gw.stop()
	pending, lastSeq, stats := bufferStats(t, bin, r.data)
	if pending != 0 {
		r.note("%d events still in the buffer after the drain:\n%s", pending, stats)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !r.col.has(lastSeq); {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // late duplicates
	r.col.stop()
	// A second, fresh consumer reads the topic from the beginning: what it
	// finds that the running collector missed is added (and noted), so a
	// consumer problem cannot pass for lost events.
	events := r.col.snapshot()
	seen := map[string]bool{}
	for _, e := range events {
		seen[fmt.Sprintf("%d/%d/%s", e.Partition, e.Offset, e.ID)] = true
	}
	added := 0
	for _, k := range testkit.Consume(t, r.kafka.addr(), topic, 1<<30, 5*time.Second) {
		e, err := parseEvent(k.Raw)
		if err != nil {
			continue
		}
		e.Partition, e.Offset = k.Partition, k.Offset
		if !seen[fmt.Sprintf("%d/%d/%s", e.Partition, e.Offset, e.ID)] {
			events = append(events, e)
			added++
		}
	}
	if added > 0 {
		t.Logf("a fresh consumer found %d messages the collector had not read", added)
	}

	rw := check(r, events, lastSeq, droppedMetric)
	record(rw)
	t.Log("\n" + tableHeader() + "\n" + rw.line())
	if !rw.Pass {
		if o.knownBug != "" {
			t.Errorf("KNOWN PRODUCT BUG (%s)", o.knownBug)
		}
		t.Errorf("run %s failed:\n%s", o.name, strings.Join(rw.Problems, "\n"))
		for i, l := range r.gw.logs {
			t.Logf("gateway output (incarnation -%d):\n%s", len(r.gw.logs)-i, lastLines(l, 60))
		}
		t.Logf("sim output:\n%s", lastLines(r.sim.Output(), 30))
	}
	return rw
}

// mountTmpfs mounts a tmpfs of size at a new directory, or skips naming why.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("disk-full run needs root to mount a small tmpfs")
	}
	dir := filepath.Join(t.TempDir(), "tmpfs")
	os.MkdirAll(dir, 0o755)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs (no CAP_SYS_ADMIN?): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fillDisk writes a ballast file until the filesystem is full.
func fillDisk(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Logf("ballast: %v", err)
		return
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	// Fill the last partial blocks too.
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
	f.Sync()
}
