//go:build benche2e

package benche2e

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rfidgw/rfidgw/internal/testkit"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/llrp/llrpsim"
	"github.com/rfidgw/rfidgw/reader/mqtt/mqttsim"
	"github.com/rfidgw/rfidgw/reader/serial/serialsim"
)

var (
	flagBin     = flag.String("bin", "", "rfidgw binary (default: build one)")
	flagLLRP    = flag.Int("llrp", 50, "simulated LLRP readers")
	flagSerial  = flag.Int("serial", 0, "simulated serial (ThingMagic) readers")
	flagMQTT    = flag.Int("mqtt", 0, "simulated MQTT (Impinj JSON, QoS 1) readers")
	flagRate    = flag.Float64("rate", 50000, "total reads/s offered (0: as fast as the gateway takes them)")
	flagTags    = flag.Int("tags", 100000, "distinct tags over all readers")
	flagMove    = flag.Float64("move", 0.01, "probability that a read finds its tag on another antenna (a rack move)")
	flagWarm    = flag.Duration("warmup", 10*time.Second, "load before measuring")
	flagDur     = flag.Duration("duration", 20*time.Second, "measured time")
	flagIdle    = flag.Duration("idle", 10*time.Second, "idle CPU measured this long after the load (0: skip)")
	flagProcs   = flag.Int("gomaxprocs", 1, "GOMAXPROCS of rfidgw (0: Go's default)")
	flagPin     = flag.Bool("pin", true, "pin rfidgw to CPU 0 and this process (readers, broker) to the other CPUs")
	flagReportN = flag.Int("report-n", 0, "llrp readers' report_tags setting (0: the default)")
	flagReportT = flag.Duration("report-every", 0, "llrp readers' report_every setting (0: unset)")
	flagWindow  = flag.Int("mqtt-window", 64, "MQTT publishes in flight per simulated reader")
	flagProfile = flag.String("profile", "", "write a CPU profile of rfidgw over the measured time to this file")
	flagRuns    = flag.Int("runs", 1, "measurements (each warmup+duration) in one daemon run")
	flagEnv     = flag.String("env", "", "extra environment of rfidgw, comma-separated (e.g. GOMEMLIMIT=48MiB)")
)

// gen plays one reader's tags: round robin over its tags, each at its home
// antenna (one of 4 rack zones), moved to another antenna with probability
// -move.
type gen struct {
	id   string
	epcs []string
	home []uint8
	i    int
	rng  *rand.Rand
}

func newGen(id string, idx, tags int) *gen {
	g := &gen{id: id, epcs: make([]string, tags), home: make([]uint8, tags), rng: rand.New(rand.NewSource(int64(idx)))}
	for t := range tags {
		g.epcs[t] = fmt.Sprintf("3034%04X%016X", idx, t)
		g.home[t] = uint8(1 + g.rng.Intn(4))
	}
	return g
}

func (g *gen) next(r *reader.Read) {
	t := g.i
	if g.i++; g.i == len(g.epcs) {
		g.i = 0
	}
	if g.rng.Float64() < *flagMove {
		g.home[t] = g.home[t]%4 + 1
	}
	r.Reader, r.EPC, r.Antenna, r.RSSI = g.id, g.epcs[t], int(g.home[t]), -50
}

type pump func(ctx context.Context, rate float64) (int64, error)

func TestBenchE2E(t *testing.T) {
	bin := *flagBin
	if bin == "" {
		bin, _ = testkit.Binaries(t)
	}
	if *flagPin {
		pinSelf(t)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	kport := testkit.FreePort(t)
	testkit.Kafka(t, kport)
	brokers := "127.0.0.1:" + strconv.Itoa(kport)

	nReaders := *flagLLRP + *flagSerial + *flagMQTT
	if nReaders == 0 {
		t.Fatal("no readers")
	}
	perReader := max(1, *flagTags/nReaders)
	var (
		readersYAML, zonesYAML strings.Builder
		pumps                  []pump
	)
	zones := func(id string) {
		for a := 1; a <= 4; a++ {
			fmt.Fprintf(&zonesYAML, "  - {id: %s-a%d, kind: rack, floor: \"1\", room: \"1\", row: %s, rack: \"%d\", antennas: [{reader: %s, antennas: [%d]}]}\n", id, a, id, a, id, a)
		}
	}
	idx := 0
	for i := range *flagLLRP {
		id := fmt.Sprintf("llrp-%02d", i)
		sim := llrpsim.New(llrpsim.Options{Antennas: 4, ImpinjPeakRSSI: true, Logger: log})
		addr, err := sim.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sim.Close() })
		extra := ""
		if *flagReportN > 0 {
			extra += fmt.Sprintf(", report_tags: %d", *flagReportN)
		}
		if *flagReportT > 0 {
			extra += fmt.Sprintf(", report_every: %s", *flagReportT)
		}
		fmt.Fprintf(&readersYAML, "  - {id: %s, type: llrp, address: \"%s\", keepalive: 10s%s}\n", id, addr, extra)
		zones(id)
		g := newGen(id, idx, perReader)
		idx++
		pumps = append(pumps, func(ctx context.Context, rate float64) (int64, error) { return sim.Pump(ctx, rate, g.next) })
	}
	for i := range *flagSerial {
		id := fmt.Sprintf("serial-%02d", i)
		sim, err := serialsim.New("thingmagic", log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sim.Close() })
		fmt.Fprintf(&readersYAML, "  - {id: %s, type: serial, device: %s, protocol: thingmagic}\n", id, sim.Path())
		zones(id)
		g := newGen(id, idx, perReader)
		idx++
		pumps = append(pumps, func(ctx context.Context, rate float64) (int64, error) { return sim.Pump(ctx, rate, g.next) })
	}
	if *flagMQTT > 0 {
		mq := testkit.StartMosquitto(t)
		for i := range *flagMQTT {
			id := fmt.Sprintf("mqtt-%02d", i)
			qos := 1
			pub, err := mqttsim.New(mqttsim.Options{Broker: mq.URL, Topic: "bench/" + id + "/events", Format: "impinj",
				ClientID: "bench-" + id, QoS: &qos, Log: log})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { pub.Close() })
			fmt.Fprintf(&readersYAML, "  - {id: %s, type: mqtt, broker: \"%s\", topic: bench/%s/events, format: impinj, qos: 1}\n", id, mq.URL, id)
			zones(id)
			g := newGen(id, idx, perReader)
			idx++
			pumps = append(pumps, func(ctx context.Context, rate float64) (int64, error) {
				return pub.Pump(ctx, rate, *flagWindow, g.next)
			})
		}
	}

	dir := t.TempDir()
	httpPort := testkit.FreePort(t)
	cfg := fmt.Sprintf(`gateway: {id: bench, data_dir: %s}
readers:
%szones:
%sedge: {min_rssi: -75, min_reads: 1, presence_window: 200ms, dwell: 100ms, hysteresis_db: 6, lost_after: 60s, gate_window: 10s}
uplink:
  kafka: {brokers: ["%s"], topic: rfid.movements, status_topic: rfid.gateway-status}
http: {listen: "127.0.0.1:%d"}
log: {level: warn, format: text}
`, filepath.Join(dir, "data"), readersYAML.String(), zonesYAML.String(), brokers, httpPort)
	cfgPath := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	if *flagProcs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(*flagProcs))
	}
	if *flagEnv != "" {
		env = append(env, strings.Split(*flagEnv, ",")...)
	}
	args := []string{"run", "--config", cfgPath}
	cmdBin := bin
	if *flagPin {
		args = append([]string{"-c", "0", bin}, args...)
		cmdBin = "taskset"
	}
	proc := testkit.Start(t, env, cmdBin, args...)
	pid := proc.Cmd.Process.Pid
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	testkit.WaitFor(t, 60*time.Second, "all readers online", func() bool {
		return sumMetric(base+"/metrics", "rfidgw_reader_connected") == float64(nReaders)
	})

	// Latency: a rack_move's time is the read that confirmed it; the
	// consumer sees the event right after Kafka acknowledged it.
	var (
		latMu    sync.Mutex
		lat      []time.Duration
		measure  atomic.Bool
		events   atomic.Int64
		fresh    atomic.Int64 // rack_moves of tags without a rack before
		consumer = make(chan struct{})
	)
	cctx, stopConsumer := context.WithCancel(context.Background())
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("rfid.movements"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(consumer)
		for cctx.Err() == nil {
			fs := cl.PollFetches(cctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				events.Add(1)
				if !measure.Load() {
					return
				}
				var e struct {
					Type string          `json:"type"`
					Time time.Time       `json:"time"`
					From json.RawMessage `json:"from"`
				}
				if json.Unmarshal(r.Value, &e) == nil && e.Type == "rack_move" {
					if string(e.From) == "null" {
						if fresh.Add(1) < 4 && os.Getenv("BENCH_DEBUG") != "" {
							fmt.Printf("DEBUG %s\n", r.Value)
						}
					}
					latMu.Lock()
					lat = append(lat, now.Sub(e.Time))
					latMu.Unlock()
				}
			})
		}
	}()
	defer func() { stopConsumer(); <-consumer; cl.Close() }()

	pctx, stopPumps := context.WithCancel(context.Background())
	var pwg sync.WaitGroup
	var offered atomic.Int64
	perRate := *flagRate / float64(len(pumps))
	for _, p := range pumps {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			n, err := p(pctx, perRate)
			offered.Add(n)
			if err != nil && pctx.Err() == nil {
				t.Errorf("reader: %v", err)
			}
		}()
	}

	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("rfidgw pid %d, %d llrp + %d serial + %d mqtt readers, %d tags, offered %s reads/s, GOMAXPROCS=%d, pinned=%v, load %s",
		pid, *flagLLRP, *flagSerial, *flagMQTT, perReader*nReaders, rateText(*flagRate), *flagProcs, *flagPin, strings.Fields(string(load))[0])
	// Warm: every tag read three times (settled in its rack), then -warmup.
	testkit.WaitFor(t, 10*time.Minute, "every tag read three times", func() bool {
		time.Sleep(200 * time.Millisecond)
		return sumMetric(base+"/metrics", "rfidgw_reads_total") >= float64(3*perReader*nReaders)
	})
	for run := range *flagRuns {
		time.Sleep(*flagWarm)
		var prof chan []byte
		if *flagProfile != "" && run == 0 {
			prof = make(chan []byte, 1)
			go func() {
				resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, int(flagDur.Seconds())))
				if err != nil {
					t.Errorf("profile: %v", err)
					prof <- nil
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 {
					t.Errorf("profile: %s: %s", resp.Status, b)
					b = nil
				}
				prof <- b
			}()
		}
		latMu.Lock()
		lat = lat[:0]
		latMu.Unlock()
		measure.Store(true)
		r0, c0, t0, e0 := sumMetric(base+"/metrics", "rfidgw_reads_total"), cpuTicks(t, pid), time.Now(), events.Load()
		time.Sleep(*flagDur)
		r1, c1, t1, e1 := sumMetric(base+"/metrics", "rfidgw_reads_total"), cpuTicks(t, pid), time.Now(), events.Load()
		measure.Store(false)
		reads := r1 - r0
		secs := t1.Sub(t0).Seconds()
		cpu := float64(c1-c0) / clkTck
		latMu.Lock()
		ls := slices.Clone(lat)
		latMu.Unlock()
		slices.Sort(ls)
		tracked := sumMetric(base+"/metrics", "rfidgw_edge_tags_tracked")
		load, _ := os.ReadFile("/proc/loadavg")
		fmt.Printf("RESULT run %d: %.0f reads/s, rfidgw CPU %.2f µs/read (%.0f %% of a core), events %.0f/s, read→Kafka latency p50 %s p99 %s max %s (%d rack_moves, %d of new tags), tags tracked %.0f, RSS %s MiB, load %s\n",
			run+1, reads/secs, cpu*1e6/reads, 100*cpu/secs, float64(e1-e0)/secs,
			pct(ls, 0.50), pct(ls, 0.99), pct(ls, 1), len(ls), fresh.Load(), tracked, rssMiB(t, pid, "VmRSS"), strings.Fields(string(load))[0])
		if prof != nil {
			if b := <-prof; b != nil {
				if err := os.WriteFile(*flagProfile, b, 0o644); err != nil {
					t.Error(err)
				}
			}
		}
	}
	if *flagProfile != "" {
		if resp, err := http.Get(base + "/debug/pprof/heap"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_ = os.WriteFile(*flagProfile+".heap", b, 0o644)
		}
	}
	stopPumps()
	pwg.Wait()
	fmt.Printf("RESULT peak RSS %s MiB (VmHWM)\n", rssMiB(t, pid, "VmHWM"))
	if *flagIdle > 0 {
		// Idle: wait until the backlog in the sockets is read.
		last := -1.0
		testkit.WaitFor(t, 5*time.Minute, "reads to stop", func() bool {
			time.Sleep(time.Second)
			n := sumMetric(base+"/metrics", "rfidgw_reads_total")
			done := n == last
			last = n
			return done
		})
		time.Sleep(2 * time.Second)
		c0, t0 := cpuTicks(t, pid), time.Now()
		time.Sleep(*flagIdle)
		c1, t1 := cpuTicks(t, pid), time.Now()
		fmt.Printf("RESULT idle CPU %.2f %% of a core (%d readers connected, no reads, over %s)\n",
			100*float64(c1-c0)/clkTck/t1.Sub(t0).Seconds(), nReaders, flagIdle.String())
	}
	if err := proc.Stop(t, 30*time.Second); err != nil {
		t.Errorf("rfidgw exit: %v\n%s", err, proc.Output())
	}
	if out := proc.Output(); strings.Contains(out, "level=ERROR") {
		t.Logf("rfidgw logged errors:\n%s", out)
	}
}

const clkTck = 100 // USER_HZ

func rateText(r float64) string {
	if r == 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(r, 'f', 0, 64)
}

func pct(ls []time.Duration, p float64) string {
	if len(ls) == 0 {
		return "-"
	}
	i := min(len(ls)-1, int(p*float64(len(ls))))
	return ls[i].Round(100 * time.Microsecond).String()
}

// cpuTicks is utime+stime of pid (and its threads) in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

func rssMiB(t *testing.T, pid int, key string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return strconv.FormatFloat(kb/1024, 'f', 1, 64)
		}
	}
	return "?"
}

// sumMetric adds every sample of a metric (all label sets).
func sumMetric(url, name string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, name+" ") && !strings.HasPrefix(l, name+"{") {
			continue
		}
		if v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// pinSelf keeps this process (simulated readers, broker) off CPU 0, where
// rfidgw runs.
func pinSelf(t *testing.T) {
	out, err := exec.Command("nproc").Output()
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || n < 2 {
		t.Log("one CPU: not pinning")
		*flagPin = false
		return
	}
	if out, err := exec.Command("taskset", "-a", "-p", "-c", fmt.Sprintf("1-%d", n-1), strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
		t.Fatalf("taskset: %v: %s", err, out)
	}
}
