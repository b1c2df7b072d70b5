package hub

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// benchValues builds n event values of 20 gateways over epcs assets, in
// seq order per gateway, about 330 bytes each (evidence included, as the
// gateways send them).
func benchValues(n, epcs int) [][]byte {
	out := make([][]byte, n)
	seq := make([]uint64, 20)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := range out {
		g := i % 20
		seq[g]++
		epc := fmt.Sprintf("E28011606000%012X", (i*7919)%epcs)
		at := t0.Add(time.Duration(i) * time.Millisecond).Format(timeLayout)
		out[i] = fmt.Appendf(nil, `{"schema":1,"id":"floor%02d-00000001000000%02x-%d","epoch":"00000001000000%02x","seq":%d,"gateway":"floor%02d","type":"rack_move","epc":"%s","time":"%s","zone":"rack-%d","from":{"zone":"rack-%d","floor":"%d","room":"r","row":"A","rack":"%d"},"to":{"zone":"rack-%d","floor":"%d","room":"r","row":"A","rack":"%d"},"evidence":{"reads":17,"first_seen":"%s","last_seen":"%s","peak_rssi":-48.5,"readers":["rack-row-a"],"antennas":[1]}}`,
			g, g, seq[g], g, seq[g], g, epc, at, i%40, (i+1)%40, g, (i+1)%40, i%40, g, i%40, at, at)
	}
	return out
}

// BenchmarkHubPipeline: what the hub does per event, on one core: decode and
// check the JSON, audit (dedupe window, holes), apply to the asset view.
// go test -run '^$' -bench HubPipeline -benchtime 2000000x -cpu 1 ./hub/
func BenchmarkHubPipeline(b *testing.B) {
	const pool = 200000
	vals := benchValues(pool, 100000)
	b.ReportAllocs()
	b.ResetTimer()
	var a *Audit
	var v *View
	cache := &strCache{}
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if i%pool == 0 {
			b.StopTimer()
			a, v = NewAudit(DefaultDedupeWindow, time.Hour, quiet), NewView(DefaultHistory, 30*time.Minute)
			b.StartTimer()
		}
		val := vals[i%pool]
		e, err := parseEventCached(val, cache)
		if err != nil {
			b.Fatal(err)
		}
		if a.Event(&e, val) != VerdictDuplicate {
			v.Apply(&e)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// BenchmarkAuditOnly is the audit's part alone (no JSON decode).
func BenchmarkAuditOnly(b *testing.B) {
	vals := benchValues(20000, 1000)
	evs := make([]Event, len(vals))
	for i, v := range vals {
		evs[i], _ = parseEvent(v)
	}
	a := NewAudit(DefaultDedupeWindow, time.Hour, quiet)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := evs[i%len(evs)]
		e.Seq += uint64(i/len(evs)) * 1000 // keep seqs new
		a.Event(&e, vals[i%len(vals)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// cpuTime is the process's user+system CPU time (the box is shared: wall
// time depends on the others' load, CPU time much less).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMemoryPerAsset: heap per tracked asset, with one remembered move
// and with five. The EPC string (24 hex digits) is counted apart.
// go test -run '^$' -bench MemoryPer -benchtime 1x ./hub/
func BenchmarkMemoryPerAsset(b *testing.B) {
	for _, moves := range []int{1, 5} {
		b.Run(fmt.Sprintf("moves=%d", moves), func(b *testing.B) {
			const n = 200000
			before := heap()
			evs := make([]Event, 0, n*moves)
			for m := 0; m < moves; m++ {
				for i := 0; i < n; i++ {
					epc := fmt.Sprintf("E28011606000%012X", i)
					zone := fmt.Sprintf("rack-%d", (i+m)%200)
					to := &Location{Zone: zone, Floor: "3", Room: "r", Row: "A", Rack: "1"}
					evs = append(evs, Event{Gateway: "floor03", Epoch: "0000000100000001", Seq: uint64(m*n + i + 1),
						Type: "rack_move", EPC: &epc, Zone: &zone, To: to,
						at: time.Date(2026, 11, 25, 10, m, 0, 0, time.UTC)})
				}
			}
			v := NewView(DefaultHistory, time.Minute)
			for i := range evs {
				v.Apply(&evs[i])
			}
			evs = nil
			after := heap()
			per := float64(after-before) / n
			b.ReportMetric(per, "B/asset")
			b.ReportMetric(per-24-16, "B/asset-without-EPC")
			runtime.KeepAlive(v)
		})
	}
}

// BenchmarkMemoryPerEpoch: heap per gateway epoch of the audit after 10,000
// events arrived (in order, and shuffled across 12 partitions' worth).
func BenchmarkMemoryPerEpoch(b *testing.B) {
	for _, lag := range []uint64{0, 1000} {
		b.Run(fmt.Sprintf("partition-lag=%d", lag), func(b *testing.B) {
			const streams = 2000
			gws := make([]string, 50)
			for i := range gws {
				gws[i] = "g" + strconv.Itoa(i)
			}
			eps := make([]string, streams)
			for i := range eps {
				eps[i] = fmt.Sprintf("%016x", i+1)
			}
			before := heap()
			a := NewAudit(DefaultDedupeWindow, time.Hour, quiet)
			val := []byte(`{}`)
			for s := 0; s < streams; s++ {
				// seqs 1..10000; those of one partition in 12 arrive lag seqs late
				var late []uint64
				for q := uint64(1); q <= 10000; q++ {
					if lag > 0 && q%12 == 5 {
						late = append(late, q)
					} else {
						e := Event{Gateway: gws[s%50], Epoch: eps[s], Seq: q, Type: "rack_move"}
						a.Event(&e, val)
					}
					for len(late) > 0 && late[0]+lag <= q {
						e := Event{Gateway: gws[s%50], Epoch: eps[s], Seq: late[0], Type: "rack_move"}
						a.Event(&e, val)
						late = late[1:]
					}
				}
				for _, q := range late {
					e := Event{Gateway: gws[s%50], Epoch: eps[s], Seq: q, Type: "rack_move"}
					a.Event(&e, val)
				}
			}
			after := heap()
			b.ReportMetric(float64(after-before)/streams, "B/epoch")
			runtime.KeepAlive(a)
		})
	}
}

// BenchmarkCatchUp: a backlog on a 3-broker kfake cluster (12 partitions)
// is consumed by one hub instance (audit of every partition + the view);
// events/s and the catch-up time of a one-hour outage of 20 gateways at 50
// events/s each (3.6 M events) at that rate.
// RFIDGW_BENCH_CATCHUP_EVENTS=400000 go test -run '^$' -bench CatchUp -benchtime 1x ./hub/
func BenchmarkCatchUp(b *testing.B) {
	n := 200000
	if s := os.Getenv("RFIDGW_BENCH_CATCHUP_EVENTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	brokers := cluster3(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100000))
	if err != nil {
		b.Fatal(err)
	}
	vals := benchValues(n, 100000)
	for i, v := range vals {
		e, _ := parseEvent(v)
		cl.Produce(context.Background(), &kgo.Record{Topic: DefaultTopic, Key: []byte(*e.EPC), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
		_ = i
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	cl.Close()
	vals = nil
	b.ResetTimer()
	cfg := Default()
	cfg.Brokers, cfg.Listen, cfg.Instance = brokers, "127.0.0.1:0", "bench"
	h, err := New(cfg, quiet)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); _ = h.Run(ctx) }()
	for h.Audit().Totals().Delivered < uint64(n) || h.View().Stats().Applied < uint64(n) {
		time.Sleep(20 * time.Millisecond)
		if time.Since(start) > 20*time.Minute {
			b.Fatalf("not caught up: %+v %+v", h.Audit().Totals(), h.View().Stats())
		}
	}
	took := time.Since(start)
	cancel()
	<-done
	rate := float64(n) / took.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(3600*20*50/rate, "s-for-1h-of-20-gateways-at-50/s")
}
