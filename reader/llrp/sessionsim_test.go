package llrp_test

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/llrp"
	"github.com/rfidgw/rfidgw/reader/llrp/llrpsim"
)

// TestSessionMalformedReport: a TagReportData with an unknown TV is dropped
// and counted; the reads around it are delivered and the session survives.
func TestSessionMalformedReport(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{})
	id := "malformed-" + t.Name()
	src := newTestSource(t, reader.Config{ID: id, Settings: &llrp.Settings{Address: addr}})
	sink := &recSink{}
	errsBefore := metricValue(t, testMetrics.ReaderFrameErrors.WithLabelValues(id))
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)

	good := func(last byte) string {
		return "00 F0 00 16 8D 30 00 00 00 00 00 00 00 00 00 00 " + string("0123456789ABCDEF"[last>>4]) + string("0123456789ABCDEF"[last&15]) + " 81 00 01 86 C4"
	}
	body := unhex(t, good(1)+" 00 F0 00 14 8D 30 00 00 00 00 00 00 00 00 00 00 02 FF 00 00 "+good(3))
	msg := llrp.AppendRawMessage(nil, llrp.Version101, llrp.MsgROAccessReport, 900, body)
	if err := sim.InjectRaw(msg); err != nil {
		t.Fatal(err)
	}
	rs := tags(sink.nTags(t, 2))
	if rs[0].EPC != "300000000000000000000001" || rs[1].EPC != "300000000000000000000003" || rs[1].RSSI != -60 {
		t.Fatalf("reads %+v", rs)
	}
	if got := metricValue(t, testMetrics.ReaderFrameErrors.WithLabelValues(id)) - errsBefore; got != 1 {
		t.Fatalf("frame errors grew by %v, want 1", got)
	}
	sim.Feed(reader.Read{Antenna: 2, EPC: "300000000000000000000004", RSSI: -50})
	sink.nTags(t, 3)
	if st := statuses(sink.snapshot()); len(st) != 1 {
		t.Fatalf("statuses %v: the session should have survived", st)
	}
}

// TestSessionResetRefused: a reader that does not allow the factory reset
// still gets its keepalive configured and inventories.
func TestSessionResetRefused(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{})
	sim.SetRejectReset(true)
	src := newTestSource(t, reader.Config{ID: "noreset-" + t.Name(), Settings: &llrp.Settings{Address: addr, Keepalive: 100 * time.Millisecond}})
	sink := &recSink{}
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)
	sim.Feed(reader.Read{Antenna: 1, EPC: "300000000000000000000009", RSSI: -50})
	sink.nTags(t, 1)
	deadline := time.Now().Add(waitLimit)
	for sim.KeepaliveAcks() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no keepalives: the keepalive was not configured without the reset")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSessionReaderCloseEvent: a reader announcing ConnectionCloseEvent
// (e.g. before a reboot) is offline at once, then reconnected.
func TestSessionReaderCloseEvent(t *testing.T) {
	sim, addr := startSim(t, llrpsim.Options{})
	src := newTestSource(t, reader.Config{ID: "closeev-" + t.Name(), Settings: &llrp.Settings{Address: addr}})
	sink := &recSink{}
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)
	if err := sim.InjectRaw(llrp.AppendMessage(nil, llrp.Version101, 5000, &llrp.ReaderEventNotification{Timestamp: 1, ConnectionClose: true})); err != nil {
		t.Fatal(err)
	}
	sink.nStatus(t, reader.StatusOffline, 1)
	sink.nStatus(t, reader.StatusOnline, 2)
}

// unhex turns "04 01 | 00 00" style dumps (as LLRP captures are usually written) into bytes.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
