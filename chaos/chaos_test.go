package chaos

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/testkit/powerfs"
)

var (
	full = flag.Bool("chaos.full", false, "run every fault on the whole busy_floor scenario (>= 50 kills over 10 minutes); about 45 minutes")
	all  = flag.Bool("chaos.all", false, "run every fault on short slices of the scenario (about 8 minutes)")
)

// only runs a fault in the plain form (`go test ./chaos/`, part of make
// test) when it is one of the two the plain form has: the kills and a Kafka
// outage. -chaos.all and -chaos.full run everything.
func only(t *testing.T, plain bool) {
	if !plain && !*full && !*all {
		t.Skip("runs with -chaos.all or -chaos.full (make chaos)")
	}
}

func TestMain(m *testing.M) {
	powerfs.ServeChild() // the power_cut run's FUSE server is a child process
	flag.Parse()
	code := m.Run()
	if t := table(); strings.Count(t, "\n") > 1 {
		form := "short (plain go test)"
		if *full {
			form = "full (-chaos.full)"
		} else if *all {
			form = "every fault on short slices (-chaos.all)"
		}
		fmt.Printf("\nchaos suite (%s form):\n%s", form, t)
	}
	os.Exit(code)
}

// pick returns the short or the full value.
func pick[T any](short, long T) T {
	if *full {
		return long
	}
	return short
}

func seed(t *testing.T) *rand.Rand {
	s := time.Now().UnixNano()
	t.Logf("random seed %d", s)
	return rand.New(rand.NewSource(s))
}

// TestChaos runs one fault per subtest against the real binaries.
func TestChaos(t *testing.T) {
	// Runs compared with the scenario play a slice at x5 (x10 in the full
	// form, to fit in the time); x10 compresses a gate's 10 s window to 1 s,
	// and a loaded machine's scheduling delays then start to look like
	// crossings.
	short := 150 * time.Second // scenario time of a short run
	sl := pick(short, 0)
	ex := pick(5.0, 10.0)

	t.Run("sigkill", func(t *testing.T) {
		only(t, true)
		rng := seed(t)
		kills := pick(20, 55)
		// Short: 20 kills in ~30 s. Full: all of busy_floor at x3 (10 min)
		// with a kill every 2-18 s.
		minGap, maxGap := pick(400*time.Millisecond, 2*time.Second), pick(1600*time.Millisecond, 18*time.Second)
		execute(t, runOpts{name: "sigkill", slice: pick(5*time.Minute, 0), scale: pick(10.0, 3.0),
			drainTimeout: 3 * time.Minute,
			fault: func(r *run) {
				r.at(0.05)
				for i := 0; i < kills; i++ {
					time.Sleep(minGap + time.Duration(rng.Int63n(int64(maxGap-minGap))))
					r.gw.kill()
					time.Sleep(time.Duration(rng.Int63n(int64(300 * time.Millisecond))))
					r.gw.start()
				}
			}})
	})

	t.Run("kafka_outages", func(t *testing.T) {
		only(t, true)
		// Three outages, 20% of the playback; the last one outlasts
		// message.timeout.ms (2 s here), the uplink's own report deadline.
		execute(t, runOpts{name: "kafka_outages", slice: sl, exact: true, scale: ex,
			librdkafka: `{message.timeout.ms: "2000"}`,
			fault: func(r *run) {
				for _, o := range []struct{ at, frac float64 }{{0.15, 0.04}, {0.4, 0.04}, {0.65, 0.12}} {
					r.at(o.at)
					r.kafka.stop()
					d := time.Duration(o.frac * float64(r.wall))
					if o.frac > 0.1 {
						d = max(d, 3*time.Second)
					}
					time.Sleep(d)
					r.kafka.start()
				}
			}})
	})

	t.Run("kafka_log_loss", func(t *testing.T) {
		only(t, false)
		// An in-memory broker killed and started empty: the producer must
		// carry on with a broker that has never heard of it.
		execute(t, runOpts{name: "kafka_log_loss", slice: sl, exact: true, scale: ex, kafkaMemory: true,
			fault: func(r *run) {
				r.at(0.5)
				// Whatever the gateway already had acknowledged is only in
				// the collector once it read it: wait for that first.
				deadline := time.Now().Add(15 * time.Second)
				for time.Now().Before(deadline) {
					v, _ := r.gw.metric("rfidgw_uplink_delivered_total")
					if float64(len(r.col.snapshot())) >= v {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				r.kafka.kill()
				time.Sleep(time.Second)
				r.kafka.start()
			}})
	})

	t.Run("reader_drops", func(t *testing.T) {
		only(t, false)
		// The LLRP sim drops its client and refuses new ones, the serial
		// pty is unplugged; reads while they are away are lost (a real
		// reader does not buffer for an absent client), so this run checks
		// the buffer's invariants only.
		d := pick(short, 30*time.Minute)
		execute(t, runOpts{name: "reader_drops", slice: sl, outages: []readerOutage{
			{"dock-1", d * 2 / 10, 15 * time.Second}, {"rack-row-a", d * 5 / 10, 15 * time.Second},
			{"dock-1", d * 7 / 10, 10 * time.Second},
		}})
	})

	t.Run("mqtt_broker_restart", func(t *testing.T) {
		only(t, false)
		// Mosquitto stops (saving its persistent sessions) and returns;
		// QoS 1 with persistent sessions loses no read. The gateway sees its
		// MQTT reader offline meanwhile, and a reader that is offline
		// neither settles nor departs its tags (by design), so the restarts
		// happen where no rack-B01 event is due around them.
		execute(t, runOpts{name: "mqtt_broker_restart", slice: pick(4*time.Minute, 0), exact: true, scale: ex,
			fault: func(r *run) {
				away := 1500 * time.Millisecond
				wins := r.slice.quietWindows("rack-B01", time.Duration(float64(away)*r.opts.scale), pick(1, 4))
				if len(wins) == 0 {
					r.note("no quiet moment for an MQTT broker restart in this slice")
				}
				for _, w := range wins {
					r.at(float64(w) / float64(r.slice.Duration))
					r.mqtt.Stop()
					time.Sleep(away)
					r.mqtt.Start()
				}
				r.mqttRestarts = len(wins)
			}})
	})

	for _, policy := range []string{"drop_oldest", "reject_new"} {
		t.Run("buffer_full_"+policy, func(t *testing.T) {
			only(t, false)
			// Kafka is down for the first 60% with room for a handful of
			// events: the loss must be exactly what the gap event says.
			execute(t, runOpts{name: "buffer_full_" + policy, slice: sl, exact: true, scale: ex, kafkaLate: true,
				bufferYAML: fmt.Sprintf("buffer: {max_bytes: %s, min_free_disk: 1MiB, on_full: %s}\n", pick("3KiB", "8KiB"), policy),
				fault: func(r *run) {
					r.at(0.6)
					// The run proves nothing unless the buffer really overflowed.
					if v, _ := r.gw.metric("rfidgw_events_dropped_total"); v == 0 {
						r.note("the buffer never overflowed while Kafka was down (rfidgw_events_dropped_total = 0)")
					}
					r.kafka.start()
				}})
		})
	}

	t.Run("disk_full", func(t *testing.T) {
		only(t, false)
		dir := mountTmpfs(t, "16m")
		execute(t, runOpts{name: "disk_full", slice: sl, dataDir: filepath.Join(dir, "data"),
			bufferYAML: "buffer: {min_free_disk: 1MiB}\n",
			fault: func(r *run) {
				r.at(0.3)
				ballast := filepath.Join(dir, "ballast")
				fillDisk(t, ballast)
				notReady := false
				deadline := time.Now().Add(20 * time.Second)
				for time.Now().Before(deadline) && !notReady {
					notReady = r.gw.readyz() == 503
					time.Sleep(100 * time.Millisecond)
				}
				if !notReady {
					r.note("/readyz never said not-ready while the disk was full")
				}
				time.Sleep(2 * time.Second)
				os.Remove(ballast)
				ready := false
				deadline = time.Now().Add(30 * time.Second)
				for time.Now().Before(deadline) && !ready {
					ready = r.gw.readyz() == 200
					time.Sleep(100 * time.Millisecond)
				}
				if !ready {
					r.note("/readyz not ready 30 s after the disk had room again")
				}
			}})
	})

	t.Run("power_cut", func(t *testing.T) {
		only(t, false)
		if err := powerfs.Available(); err != nil {
			t.Skip(err)
		}
		// data_dir on powerfs: at each cut every write not yet fsync'd is
		// thrown away (half the cuts torn), then the gateway is SIGKILLed,
		// the file system "reboots" and the gateway starts again.
		rng := seed(t)
		cuts := pick(20, 55)
		dir := t.TempDir()
		mnt, backing := filepath.Join(dir, "mnt"), filepath.Join(dir, "disk")
		os.MkdirAll(mnt, 0o755)
		os.MkdirAll(backing, 0o755)
		// A slow fsync widens the moment between a commit's writes and their
		// fsync; at this event rate a cut would otherwise rarely catch one.
		mount := func() (*powerfs.Proc, error) {
			d, err := powerfs.Start(mnt, backing)
			if err == nil {
				err = d.SlowFsync(300 * time.Millisecond)
			}
			return d, err
		}
		disk, err := mount()
		if err != nil {
			t.Fatal(err)
		}
		defer func() { disk.Stop() }()
		var lostPages, lostDirOps int
		defer func() {
			t.Logf("%d power cuts threw away %d unsynced pages and %d directory changes", cuts, lostPages, lostDirOps)
		}()
		minGap, maxGap := pick(400*time.Millisecond, 2*time.Second), pick(1600*time.Millisecond, 18*time.Second)
		execute(t, runOpts{name: "power_cut", slice: pick(5*time.Minute, 0), scale: pick(10.0, 3.0), dataDir: mnt,
			drainTimeout: 3 * time.Minute,
			fault: func(r *run) {
				r.at(0.05)
				for i := 0; i < cuts; i++ {
					time.Sleep(minGap + time.Duration(rng.Int63n(int64(maxGap-minGap))))
					tear := int64(0)
					if i%2 == 1 {
						tear = rng.Int63() | 1
					}
					cs, err := disk.Cut(tear)
					if err != nil {
						r.note("cut %d: %v", i, err)
					}
					lostPages, lostDirOps = lostPages+cs.LostPages, lostDirOps+cs.LostDirOps
					r.gw.kill()
					if err := disk.Stop(); err != nil {
						r.note("cut %d: unmount: %v", i, err)
					}
					if disk, err = mount(); err != nil {
						r.note("cut %d: mount again: %v", i, err)
						return
					}
					r.gw.start()
				}
			}})
	})

	t.Run("malformed_input", func(t *testing.T) {
		only(t, false)
		// Every simulated reader writes a malformed frame/payload after 10%
		// of its reads; the reads themselves all arrive.
		execute(t, runOpts{name: "malformed_input", slice: sl, exact: true, scale: ex, garbage: 0.1})
	})

	t.Run("sighup_reload", func(t *testing.T) {
		only(t, false)
		// The zone set alternates between busy_floor's and config_reload's
		// reordered one (new order, an extra rack on an unused antenna,
		// equal overrides): the events must not change.
		execute(t, runOpts{name: "sighup_reload", slice: sl, exact: true, scale: ex, zonesAlt: true,
			fault: func(r *run) {
				for i := 1; i <= 6; i++ {
					r.at(float64(i) / 7)
					next := r.cfgB
					if i%2 == 0 {
						next = r.cfgA
					}
					os.WriteFile(r.cfg, []byte(next), 0o644)
					r.gw.signal(syscall.SIGHUP)
				}
				r.at(1)
				out := r.gw.output()
				if n := strings.Count(out, "reload done"); n != 6 {
					r.note("%d of 6 reloads done; rejected: %d", n, strings.Count(out, "reload rejected"))
				}
			}})
	})
}
