package llrp_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/llrp"
	"github.com/rfidgw/rfidgw/reader/llrp/llrpsim"
)

// lockedBuf is a log destination the test reads while the source writes.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// TestSessionNoCapabilities: a reader that never answers
// GET_READER_CAPABILITIES (llrpjs' dummy reader) is used with conservative
// defaults after the timeout: online, reads delivered, one warning over
// several connections; Check describes it instead of failing.
func TestSessionNoCapabilities(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{})
	sim.SetIgnoreCapabilities(true)
	logs := &lockedBuf{}
	cfg := reader.Config{ID: "nocaps-" + t.Name(), Type: reader.TypeLLRP, Settings: &llrp.Settings{Address: addr}, Antennas: []int{1, 2}}
	src, err := llrp.New(cfg, reader.Env{Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	llrp.SetBackoff(src, 20*time.Millisecond, 200*time.Millisecond)
	llrp.SetRequestTimeout(src, 300*time.Millisecond)

	desc, err := src.Check(context.Background())
	if err != nil || !strings.Contains(desc, "did not answer GET_READER_CAPABILITIES") {
		t.Fatalf("Check = %q, %v; want a description of the defaults, no error", desc, err)
	}

	sink := &recSink{}
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)
	sim.Feed(reader.Read{Antenna: 2, EPC: "300000000000000000000001", RSSI: -50})
	sim.Feed(reader.Read{Antenna: 3, EPC: "300000000000000000000002", RSSI: -50}) // not configured
	sim.Feed(reader.Read{Antenna: 1, EPC: "300000000000000000000003", RSSI: -50})
	rs := tags(sink.nTags(t, 2))
	if rs[0].EPC != "300000000000000000000001" || rs[1].EPC != "300000000000000000000003" {
		t.Fatalf("reads %+v", rs)
	}

	sim.DropConnections()
	sink.nStatus(t, reader.StatusOnline, 2)
	sim.Feed(reader.Read{Antenna: 1, EPC: "300000000000000000000004", RSSI: -50})
	sink.nTags(t, 3)
	if n := logs.count("did not answer GET_READER_CAPABILITIES"); n != 1 {
		t.Fatalf("%d capability warnings over 2 connections, want 1:\n%s", n, logs.b.String())
	}
}

// TestSessionReconnectVerifies: after a network cut the reader still holds
// the gateway's ROSpec: it is kept (no reset, nothing counted). After a
// reboot to defaults it is gone: it is applied again, counted once in
// rfidgw_reader_config_reapplied_total, and reads flow again.
func TestSessionReconnectVerifies(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{KeepROSpecs: true})
	id := "verify-" + t.Name()
	src := newTestSource(t, reader.Config{ID: id, Settings: &llrp.Settings{Address: addr, Keepalive: 200 * time.Millisecond}})
	sink := &recSink{}
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)
	reapplied := func() float64 { return metricValue(t, testMetrics.ReaderConfigReapplied.WithLabelValues(id)) }
	if sim.GetROSpecsAnswered() != 0 || reapplied() != 0 {
		t.Fatalf("first connection: %d GET_ROSPECS, %v reapplied; want a plain install", sim.GetROSpecsAnswered(), reapplied())
	}

	sim.DropConnections() // network cut: the reader keeps its ROSpec
	sink.nStatus(t, reader.StatusOnline, 2)
	if sim.GetROSpecsAnswered() != 1 || reapplied() != 0 {
		t.Fatalf("after a cut: %d GET_ROSPECS, %v reapplied; want 1, 0", sim.GetROSpecsAnswered(), reapplied())
	}
	sim.Feed(reader.Read{Antenna: 1, EPC: "300000000000000000000001", RSSI: -50})
	sink.nTags(t, 1)

	sim.Reboot() // back to defaults: no ROSpec, no keepalive
	sink.nStatus(t, reader.StatusOnline, 3)
	if sim.GetROSpecsAnswered() != 2 || reapplied() != 1 {
		t.Fatalf("after a reboot: %d GET_ROSPECS, %v reapplied; want 2, 1", sim.GetROSpecsAnswered(), reapplied())
	}
	sim.Feed(reader.Read{Antenna: 2, EPC: "300000000000000000000002", RSSI: -50})
	rs := tags(sink.nTags(t, 2))
	if rs[1].EPC != "300000000000000000000002" {
		t.Fatalf("reads after the reboot %+v", rs)
	}
	// The keepalive was set again: the session stays up past 3 intervals.
	acks := sim.KeepaliveAcks()
	deadline := time.Now().Add(waitLimit)
	for sim.KeepaliveAcks() < acks+4 {
		if time.Now().After(deadline) {
			t.Fatal("no keepalives after the reboot: the config was not applied again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := statuses(sink.snapshot()); len(st) != 5 {
		t.Fatalf("statuses %v, want online offline online offline online", st)
	}
}

// TestCheckAntennaDisconnected: `rfidgw check` names a configured antenna
// the reader reports disconnected (and not one the config does not use).
func TestCheckAntennaDisconnected(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{})
	sim.SetAntennaConnected(2, false)
	sim.SetAntennaConnected(4, false)
	src := newTestSource(t, reader.Config{ID: "chkant", Settings: &llrp.Settings{Address: addr}, Antennas: []int{1, 2, 3}})
	desc, err := src.Check(context.Background())
	if err != nil || !strings.HasSuffix(desc, "; DISCONNECTED antennas: 2") {
		t.Fatalf("Check = %q, %v; want the disconnected antenna 2 named", desc, err)
	}
}

// TestSessionClockFarOff: a reader whose clock is at 2000-01-01 (no RTC
// battery) or 90 s ahead gets its reads at gateway time, with one warning
// over two connections, rfidgw_reader_clock_offset_seconds showing the
// offset, and `rfidgw check` saying how far off the clock is.
func TestSessionClockFarOff(t *testing.T) {
	y2k := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		off  time.Duration
		text string
	}{
		{"y2000", time.Until(y2k), "s off the gateway (reads corrected; set up NTP on the reader)"},
		{"ahead-90s", 90 * time.Second, "clock +90.0s off the gateway"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sim, addr := startSim(t, llrpsim.Options{ClockOffset: c.off})
			logs := &lockedBuf{}
			id := "clockoff-" + c.name
			src, err := llrp.New(reader.Config{ID: id, Type: reader.TypeLLRP, Settings: &llrp.Settings{Address: addr}},
				reader.Env{Log: slog.New(slog.NewTextHandler(logs, nil)), Metrics: testMetrics.Readers()})
			if err != nil {
				t.Fatal(err)
			}
			llrp.SetBackoff(src, 20*time.Millisecond, 200*time.Millisecond)
			desc, err := src.Check(context.Background())
			if err != nil || !strings.Contains(desc, c.text) {
				t.Fatalf("Check = %q, %v; want %q", desc, err, c.text)
			}
			sink := &recSink{}
			runSource(t, src, sink)
			sink.nStatus(t, reader.StatusOnline, 1)
			for i := 0; i < 2; i++ {
				before := time.Now()
				sim.Feed(reader.Read{Antenna: 1, EPC: "300000000000000000000001", RSSI: -50})
				rs := tags(sink.nTags(t, i+1))
				if g := rs[i].Time; g.Before(before.Add(-time.Second)) || g.After(time.Now().Add(time.Second)) {
					t.Fatalf("read %d at %v, want gateway time %v", i, g, before)
				}
				if i == 0 {
					sim.DropConnections()
					sink.nStatus(t, reader.StatusOnline, 2)
				}
			}
			if got := metricValue(t, testMetrics.ReaderClockOffset.WithLabelValues(id)); got < c.off.Seconds()-1 || got > c.off.Seconds()+1 {
				t.Fatalf("rfidgw_reader_clock_offset_seconds = %v, want about %v", got, c.off.Seconds())
			}
			if n := logs.count("reader clock is off"); n != 1 {
				t.Fatalf("%d clock warnings over a check and two connections, want 1", n)
			}
		})
	}
}
