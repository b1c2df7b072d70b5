package llrp

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/metrics"
	"github.com/rfidgw/rfidgw/reader"
)

// rawClient speaks LLRP to the simulator message by message, to check the
// simulator's answers independently of Source.
type rawClient struct {
	t       *testing.T
	nc      net.Conn
	fr      *Framer
	id      uint32
	reports [][]TagReport
	kas     []uint32 // ids of KEEPALIVEs seen
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawClient{t: t, nc: nc, fr: NewFramer(nc)}
	h, m := c.next()
	ev, ok := m.(*ReaderEventNotification)
	if h.Type != MsgReaderEventNotification || !ok || !ev.HasConnectionAttempt || ev.ConnectionStatus != ConnSuccess {
		t.Fatalf("first message %v %+v, want a successful ConnectionAttemptEvent", h.Type, m)
	}
	return c
}

func (c *rawClient) next() (Header, Message) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(waitLimit))
	h, body, err := c.fr.ReadMessage()
	if err != nil {
		c.t.Fatalf("reading from the simulator: %v", err)
	}
	m, err := DecodeMessage(h, body)
	if err != nil {
		c.t.Fatalf("decoding %v: %v", h.Type, err)
	}
	return h, m
}

func (c *rawClient) send(version uint8, m Message) uint32 {
	c.t.Helper()
	c.id++
	if _, err := c.nc.Write(AppendMessage(nil, version, c.id, m)); err != nil {
		c.t.Fatal(err)
	}
	return c.id
}

// do sends m and returns the message that answers it (same id), keeping
// reports and keepalives that arrive meanwhile.
func (c *rawClient) do(m Message) (Header, Message) {
	c.t.Helper()
	id := c.send(Version101, m)
	for {
		h, r := c.next()
		if c.keep(h, r) {
			continue
		}
		if h.ID != id {
			c.t.Fatalf("answer to %v has id %d, want %d", m.Type(), h.ID, id)
		}
		return h, r
	}
}

func (c *rawClient) keep(h Header, m Message) bool {
	switch h.Type {
	case MsgROAccessReport:
		c.reports = append(c.reports, m.(*ROAccessReport).Tags)
		return true
	case MsgKeepalive:
		c.kas = append(c.kas, h.ID)
		return true
	}
	return false
}

func (c *rawClient) ok(m Message) {
	c.t.Helper()
	h, r := c.do(m)
	st := statusOf(r)
	if st == nil || st.Err() != nil {
		c.t.Fatalf("%v answered by %v %+v, want success", m.Type(), h.Type, r)
	}
}

func (c *rawClient) fails(m Message, want StatusCode, text string) {
	c.t.Helper()
	h, r := c.do(m)
	st := statusOf(r)
	if st == nil || st.Code != want || !strings.Contains(st.Description, text) {
		c.t.Fatalf("%v answered by %v %+v, want %v mentioning %q", m.Type(), h.Type, r, want, text)
	}
}

// waitReports reads until n tags were reported in total.
func (c *rawClient) waitReports(n int) {
	c.t.Helper()
	for count(c.reports) < n {
		h, m := c.next()
		if !c.keep(h, m) {
			c.t.Fatalf("unexpected %v while waiting for reports", h.Type)
		}
	}
}

func count(reports [][]TagReport) int {
	n := 0
	for _, r := range reports {
		n += len(r)
	}
	return n
}

func (c *rawClient) install(r ROSpec) {
	c.t.Helper()
	c.ok(&ROSpecCommand{Kind: MsgDeleteROSpec})
	c.ok(&AddROSpec{ROSpec: r})
	c.ok(&ROSpecCommand{Kind: MsgEnableROSpec, ROSpecID: r.ID})
	c.ok(&ROSpecCommand{Kind: MsgStartROSpec, ROSpecID: r.ID})
}

// pendingTags counts tags held by the simulator's active ROSpecs.
func (s *Simulator) pendingTags() int {
	s.mu.Lock()
	c := s.active
	s.mu.Unlock()
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.rospecs {
		n += len(r.pending)
	}
	return n
}

func waitPending(t *testing.T, s *Simulator, n int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for s.pendingTags() != n {
		if time.Now().After(deadline) {
			t.Fatalf("simulator holds %d tags, want %d", s.pendingTags(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitProcessed(t *testing.T, s *Simulator, n int64) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for s.processed.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("simulator processed %d reads, want %d", s.processed.Load(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func feedN(s *Simulator, n, antenna int) {
	for i := 0; i < n; i++ {
		s.Feed(reader.Read{Antenna: antenna, EPC: "30000000000000000000000" + string(rune('0'+i%10)), RSSI: -50})
	}
}

// TestSimulatorReportTrigger: N tags per report, antennas and content
// selector of the ROSpec are honoured; pending tags are reported at the end
// of the ROSpec.
func TestSimulatorReportTrigger(t *testing.T) {
	sim, addr := startSim(t, SimOptions{})
	c := dialRaw(t, addr)
	c.install(ROSpec{ID: 5, Antennas: []uint16{2}, InventoryParamSpecID: 1, ProtocolID: 1, HasReportSpec: true,
		ReportTrigger: ReportNTagsOrEndOfAISpec, ReportN: 3, ContentSelector: SelAntennaID})
	feedN(sim, 1, 1) // antenna 1 is not in the ROSpec
	feedN(sim, 7, 2)
	c.waitReports(6)
	waitPending(t, sim, 1)
	c.ok(&ROSpecCommand{Kind: MsgStopROSpec, ROSpecID: 5})
	if len(c.reports) != 3 || len(c.reports[0]) != 3 || len(c.reports[1]) != 3 || len(c.reports[2]) != 1 {
		t.Fatalf("report sizes %v, want 3 3 1", sizes(c.reports))
	}
	for _, r := range c.reports {
		for _, tag := range r {
			if tag.Fields != HasAntennaID || tag.AntennaID != 2 {
				t.Fatalf("tag %+v: want only AntennaID=2 as selected", tag)
			}
		}
	}
	// Stopped: nothing more is reported.
	feedN(sim, 2, 2)
	waitProcessed(t, sim, 10)
	c.ok(&ROSpecCommand{Kind: MsgStartROSpec, ROSpecID: 5})
	feedN(sim, 3, 2)
	c.waitReports(10)
	if n := count(c.reports); n != 10 {
		t.Fatalf("%d tags reported, want 10 (none while stopped)", n)
	}
}

func sizes(rs [][]TagReport) []int {
	var out []int
	for _, r := range rs {
		out = append(out, len(r))
	}
	return out
}

// TestSimulatorTimedTrigger: an LLRP 1.1 N-milliseconds trigger batches all
// tags seen in the period into one report.
func TestSimulatorTimedTrigger(t *testing.T) {
	sim, addr := startSim(t, SimOptions{UptimeOnly: true})
	c := dialRaw(t, addr)
	c.install(ROSpec{ID: 1, Antennas: []uint16{0}, InventoryParamSpecID: 1, ProtocolID: 1, HasReportSpec: true,
		ReportTrigger: ReportNMillisOrEndOfAI, ReportN: 50, ContentSelector: SelAntennaID | SelPeakRSSI | SelLastSeen})
	feedN(sim, 5, 3)
	c.waitReports(5)
	for _, r := range c.reports {
		for _, tag := range r {
			if tag.Fields != HasAntennaID|HasPeakRSSI|HasLastSeenUptime || tag.PeakRSSI != -50 {
				t.Fatalf("tag %+v: want antenna, RSSI and uptime last-seen", tag)
			}
		}
	}
	if len(c.reports) >= 5 {
		t.Fatalf("report sizes %v: a timed trigger must batch", sizes(c.reports))
	}
}

// TestSimulatorProtocolErrors: the simulator rejects what a real reader
// rejects, with a status that says why.
func TestSimulatorProtocolErrors(t *testing.T) {
	_, addr := startSim(t, SimOptions{Antennas: 2})
	c := dialRaw(t, addr)
	spec := ROSpec{ID: 1, Antennas: []uint16{1, 9}, InventoryParamSpecID: 1, ProtocolID: 1}
	c.fails(&AddROSpec{ROSpec: spec}, StatusFieldError, "antenna 9 does not exist")
	spec.Antennas = []uint16{2}
	c.ok(&AddROSpec{ROSpec: spec})
	c.fails(&ROSpecCommand{Kind: MsgStartROSpec, ROSpecID: 1}, StatusFieldError, "not enabled")
	spec.ID = 2
	c.fails(&AddROSpec{ROSpec: spec}, StatusOverflowParameter, "1 ROSpec")
	c.fails(&ROSpecCommand{Kind: MsgEnableROSpec, ROSpecID: 3}, StatusFieldError, "no ROSpec with id 3")

	// An unsupported message and an unsupported version get ERROR_MESSAGE
	// with the request's id.
	c.id++
	raw := AppendMessage(nil, Version101, c.id, &ROSpecCommand{Kind: MsgDisableROSpec, ROSpecID: 0})
	raw[1] = 26 // GET_ROSPECS
	c.nc.Write(raw)
	h, m := c.next()
	if h.Type != MsgErrorMessage || h.ID != c.id || m.(*StatusResponse).Status.Code != StatusUnsupportedMessage {
		t.Fatalf("GET_ROSPECS answered by %+v %+v", h, m)
	}
	id := c.send(Version11, &GetReaderCapabilities{})
	h, m = c.next()
	if h.Type != MsgErrorMessage || h.ID != id || m.(*StatusResponse).Status.Code != StatusUnsupportedVersion {
		t.Fatalf("v1.1 request answered by %+v %+v", h, m)
	}

	// Keepalives at the configured period, acknowledged by the client.
	c.ok(&SetReaderConfig{Keepalive: &KeepaliveSpec{Trigger: 1, IntervalMS: 20}})
	for len(c.kas) < 2 {
		h, m := c.next()
		c.keep(h, m)
	}
	// Close: answered, then the reader closes the socket.
	h, m = c.do(&Empty{Kind: MsgCloseConnection})
	if h.Type != MsgCloseConnectionResponse || statusOf(m).Err() != nil {
		t.Fatalf("CLOSE_CONNECTION answered by %v %+v", h.Type, m)
	}
	c.nc.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		if _, _, err := c.fr.ReadMessage(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after close: %v, want EOF", err)
			}
			break
		}
	}
}

// TestSessionMalformedReport: a TagReportData with an unknown TV is dropped
// and counted; the reads around it are delivered and the session survives.
func TestSessionMalformedReport(t *testing.T) {
	sim, addr := startSim(t, SimOptions{})
	id := "malformed-" + t.Name()
	src := newTestSource(t, reader.Config{ID: id, Settings: &Settings{Address: addr}})
	sink := &recSink{}
	errsBefore := metricValue(t, metrics.ReaderFrameErrors.WithLabelValues(id))
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)

	good := func(last byte) string {
		return "00 F0 00 16 8D 30 00 00 00 00 00 00 00 00 00 00 " + string("0123456789ABCDEF"[last>>4]) + string("0123456789ABCDEF"[last&15]) + " 81 00 01 86 C4"
	}
	body := unhex(t, good(1)+" 00 F0 00 14 8D 30 00 00 00 00 00 00 00 00 00 00 02 FF 00 00 "+good(3))
	msg := appendHeader(nil, Version101, MsgROAccessReport, 900)
	msg = finishMessage(append(msg, body...), 0)
	if err := sim.injectRaw(msg); err != nil {
		t.Fatal(err)
	}
	rs := tags(sink.nTags(t, 2))
	if rs[0].EPC != "300000000000000000000001" || rs[1].EPC != "300000000000000000000003" || rs[1].RSSI != -60 {
		t.Fatalf("reads %+v", rs)
	}
	if got := metricValue(t, metrics.ReaderFrameErrors.WithLabelValues(id)) - errsBefore; got != 1 {
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
	sim, addr := startSim(t, SimOptions{})
	sim.rejectReset.Store(true)
	src := newTestSource(t, reader.Config{ID: "noreset-" + t.Name(), Settings: &Settings{Address: addr, Keepalive: 100 * time.Millisecond}})
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
	sim, addr := startSim(t, SimOptions{})
	src := newTestSource(t, reader.Config{ID: "closeev-" + t.Name(), Settings: &Settings{Address: addr}})
	sink := &recSink{}
	runSource(t, src, sink)
	sink.nStatus(t, reader.StatusOnline, 1)
	if err := sim.injectRaw(AppendMessage(nil, Version101, 5000, &ReaderEventNotification{Timestamp: 1, ConnectionClose: true})); err != nil {
		t.Fatal(err)
	}
	sink.nStatus(t, reader.StatusOffline, 1)
	sink.nStatus(t, reader.StatusOnline, 2)
}
