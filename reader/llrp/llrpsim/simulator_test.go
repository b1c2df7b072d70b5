package llrpsim

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/llrp"
)

// rawClient speaks LLRP to the simulator message by message, to check the
// simulator's answers independently of Source.
type rawClient struct {
	t       *testing.T
	nc      net.Conn
	fr      *llrp.Framer
	id      uint32
	reports [][]llrp.TagReport
	kas     []uint32 // ids of KEEPALIVEs seen
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawClient{t: t, nc: nc, fr: llrp.NewFramer(nc)}
	h, m := c.next()
	ev, ok := m.(*llrp.ReaderEventNotification)
	if h.Type != llrp.MsgReaderEventNotification || !ok || !ev.HasConnectionAttempt || ev.ConnectionStatus != llrp.ConnSuccess {
		t.Fatalf("first message %v %+v, want a successful ConnectionAttemptEvent", h.Type, m)
	}
	return c
}

func (c *rawClient) next() (llrp.Header, llrp.Message) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(waitLimit))
	h, body, err := c.fr.ReadMessage()
	if err != nil {
		c.t.Fatalf("reading from the simulator: %v", err)
	}
	m, err := llrp.DecodeMessage(h, body)
	if err != nil {
		c.t.Fatalf("decoding %v: %v", h.Type, err)
	}
	return h, m
}

func (c *rawClient) send(version uint8, m llrp.Message) uint32 {
	c.t.Helper()
	c.id++
	if _, err := c.nc.Write(llrp.AppendMessage(nil, version, c.id, m)); err != nil {
		c.t.Fatal(err)
	}
	return c.id
}

// do sends m and returns the message that answers it (same id), keeping
// reports and keepalives that arrive meanwhile.
func (c *rawClient) do(m llrp.Message) (llrp.Header, llrp.Message) {
	c.t.Helper()
	id := c.send(llrp.Version101, m)
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

func (c *rawClient) keep(h llrp.Header, m llrp.Message) bool {
	switch h.Type {
	case llrp.MsgROAccessReport:
		c.reports = append(c.reports, m.(*llrp.ROAccessReport).Tags)
		return true
	case llrp.MsgKeepalive:
		c.kas = append(c.kas, h.ID)
		return true
	}
	return false
}

func (c *rawClient) ok(m llrp.Message) {
	c.t.Helper()
	h, r := c.do(m)
	st := statusOf(r)
	if st == nil || st.Err() != nil {
		c.t.Fatalf("%v answered by %v %+v, want success", m.Type(), h.Type, r)
	}
}

func (c *rawClient) fails(m llrp.Message, want llrp.StatusCode, text string) {
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

func count(reports [][]llrp.TagReport) int {
	n := 0
	for _, r := range reports {
		n += len(r)
	}
	return n
}

func (c *rawClient) install(r llrp.ROSpec) {
	c.t.Helper()
	c.ok(&llrp.ROSpecCommand{Kind: llrp.MsgDeleteROSpec})
	c.ok(&llrp.AddROSpec{ROSpec: r})
	c.ok(&llrp.ROSpecCommand{Kind: llrp.MsgEnableROSpec, ROSpecID: r.ID})
	c.ok(&llrp.ROSpecCommand{Kind: llrp.MsgStartROSpec, ROSpecID: r.ID})
}

func waitPending(t *testing.T, s *Simulator, n int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for s.PendingTags() != n {
		if time.Now().After(deadline) {
			t.Fatalf("simulator holds %d tags, want %d", s.PendingTags(), n)
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
	sim, addr := startSim(t, Options{})
	c := dialRaw(t, addr)
	c.install(llrp.ROSpec{ID: 5, Antennas: []uint16{2}, InventoryParamSpecID: 1, ProtocolID: 1, HasReportSpec: true,
		ReportTrigger: llrp.ReportNTagsOrEndOfAISpec, ReportN: 3, ContentSelector: llrp.SelAntennaID})
	feedN(sim, 1, 1) // antenna 1 is not in the ROSpec
	feedN(sim, 7, 2)
	c.waitReports(6)
	waitPending(t, sim, 1)
	c.ok(&llrp.ROSpecCommand{Kind: llrp.MsgStopROSpec, ROSpecID: 5})
	if len(c.reports) != 3 || len(c.reports[0]) != 3 || len(c.reports[1]) != 3 || len(c.reports[2]) != 1 {
		t.Fatalf("report sizes %v, want 3 3 1", sizes(c.reports))
	}
	for _, r := range c.reports {
		for _, tag := range r {
			if tag.Fields != llrp.HasAntennaID || tag.AntennaID != 2 {
				t.Fatalf("tag %+v: want only AntennaID=2 as selected", tag)
			}
		}
	}
	// Stopped: nothing more is reported.
	feedN(sim, 2, 2)
	waitProcessed(t, sim, 10)
	c.ok(&llrp.ROSpecCommand{Kind: llrp.MsgStartROSpec, ROSpecID: 5})
	feedN(sim, 3, 2)
	c.waitReports(10)
	if n := count(c.reports); n != 10 {
		t.Fatalf("%d tags reported, want 10 (none while stopped)", n)
	}
}

func sizes(rs [][]llrp.TagReport) []int {
	var out []int
	for _, r := range rs {
		out = append(out, len(r))
	}
	return out
}

// TestSimulatorTimedTrigger: an LLRP 1.1 N-milliseconds trigger batches all
// tags seen in the period into one report.
func TestSimulatorTimedTrigger(t *testing.T) {
	sim, addr := startSim(t, Options{UptimeOnly: true})
	c := dialRaw(t, addr)
	c.install(llrp.ROSpec{ID: 1, Antennas: []uint16{0}, InventoryParamSpecID: 1, ProtocolID: 1, HasReportSpec: true,
		ReportTrigger: llrp.ReportNMillisOrEndOfAI, ReportN: 50, ContentSelector: llrp.SelAntennaID | llrp.SelPeakRSSI | llrp.SelLastSeen})
	feedN(sim, 5, 3)
	c.waitReports(5)
	for _, r := range c.reports {
		for _, tag := range r {
			if tag.Fields != llrp.HasAntennaID|llrp.HasPeakRSSI|llrp.HasLastSeenUptime || tag.PeakRSSI != -50 {
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
	_, addr := startSim(t, Options{Antennas: 2})
	c := dialRaw(t, addr)
	spec := llrp.ROSpec{ID: 1, Antennas: []uint16{1, 9}, InventoryParamSpecID: 1, ProtocolID: 1}
	c.fails(&llrp.AddROSpec{ROSpec: spec}, llrp.StatusFieldError, "antenna 9 does not exist")
	spec.Antennas = []uint16{2}
	c.ok(&llrp.AddROSpec{ROSpec: spec})
	c.fails(&llrp.ROSpecCommand{Kind: llrp.MsgStartROSpec, ROSpecID: 1}, llrp.StatusFieldError, "not enabled")
	spec.ID = 2
	c.fails(&llrp.AddROSpec{ROSpec: spec}, llrp.StatusOverflowParameter, "1 ROSpec")
	c.fails(&llrp.ROSpecCommand{Kind: llrp.MsgEnableROSpec, ROSpecID: 3}, llrp.StatusFieldError, "no ROSpec with id 3")

	// An unsupported message and an unsupported version get ERROR_MESSAGE
	// with the request's id.
	c.id++
	raw := llrp.AppendMessage(nil, llrp.Version101, c.id, &llrp.ROSpecCommand{Kind: llrp.MsgDisableROSpec, ROSpecID: 0})
	raw[1] = 40 // ADD_ACCESSSPEC
	c.nc.Write(raw)
	h, m := c.next()
	if h.Type != llrp.MsgErrorMessage || h.ID != c.id || m.(*llrp.StatusResponse).Status.Code != llrp.StatusUnsupportedMessage {
		t.Fatalf("ADD_ACCESSSPEC answered by %+v %+v", h, m)
	}
	id := c.send(llrp.Version11, &llrp.GetReaderCapabilities{})
	h, m = c.next()
	if h.Type != llrp.MsgErrorMessage || h.ID != id || m.(*llrp.StatusResponse).Status.Code != llrp.StatusUnsupportedVersion {
		t.Fatalf("v1.1 request answered by %+v %+v", h, m)
	}

	// Keepalives at the configured period, acknowledged by the client.
	c.ok(&llrp.SetReaderConfig{Keepalive: &llrp.KeepaliveSpec{Trigger: 1, IntervalMS: 20}})
	for len(c.kas) < 2 {
		h, m := c.next()
		c.keep(h, m)
	}
	// Close: answered, then the reader closes the socket.
	h, m = c.do(&llrp.Empty{Kind: llrp.MsgCloseConnection})
	if h.Type != llrp.MsgCloseConnectionResponse || statusOf(m).Err() != nil {
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

// waitLimit only guards against hangs; no test asserts speed with it.
const waitLimit = 15 * time.Second

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func startSim(t *testing.T, opts Options) (*Simulator, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLog
	}
	sim := New(opts)
	addr, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, addr.String()
}

func statusOf(m llrp.Message) *llrp.Status {
	switch r := m.(type) {
	case *llrp.StatusResponse:
		return &r.Status
	case *llrp.GetReaderCapabilitiesResponse:
		return &r.Status
	}
	return nil
}
