package llrpsim

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/llrp"
)

// Options configure a simulated LLRP reader. Zero values give an Impinj
// Speedway-like reader with 4 antennas and UTC timestamps.
type Options struct {
	Antennas     int    // antenna ports (default 4)
	Manufacturer uint32 // DeviceManufacturerName (default VendorImpinj)
	Model        uint32 // ModelName (default 2001002, a Speedway R420)
	Firmware     string // default "5.14.0.240"

	// TLS, when set, makes Listen serve LLRP over TLS.
	TLS *tls.Config
	// UptimeOnly makes the reader stamp reads with uptime instead of UTC,
	// like readers without a real-time clock.
	UptimeOnly bool
	// ClockOffset is added to the reader's UTC timestamps (a reader clock
	// that is off).
	ClockOffset time.Duration
	// RefuseConnections makes the reader answer every client with
	// ConnectionAttemptEvent status 2, "another client is already
	// connected". SetRefuse changes it later.
	RefuseConnections bool
	// ImpinjPeakRSSI adds Impinj's centi-dBm peak RSSI custom parameter to
	// every TagReportData that reports PeakRSSI.
	ImpinjPeakRSSI bool
	// KeepROSpecs makes ROSpecs (with their state) and the keepalive
	// survive the client connection, like on a real reader: a reconnecting
	// client finds them again, DropConnections is a network cut, and
	// Reboot clears them (a reader back at its defaults). Without it every
	// connection starts with none.
	KeepROSpecs bool
	// QueueSize bounds the reads Feed queues per connection before it drops
	// the oldest (default 10000).
	QueueSize int
	Logger    *slog.Logger
}

// Simulator is a simulated LLRP reader on a real TCP (or TLS) listener. It
// answers the client sequence of a real reader (connection event,
// capabilities, SET_READER_CONFIG with keepalive and factory reset, ROSpec
// add/enable/start/stop/delete, keepalives, CLOSE_CONNECTION), accepts one
// client at a time, and reports fed reads while a ROSpec covering their
// antenna is active, honouring its report trigger and content selector.
// ROSpecs live as long as the client connection that added them.
// It implements reader.Emulator.
type Simulator struct {
	opts Options
	log  *slog.Logger
	boot atomic.Int64 // unix ns of the last (simulated) boot; uptime counts from it

	silent      atomic.Bool
	refuse      atomic.Bool
	rejectReset atomic.Bool  // see SetRejectReset
	noCaps      atomic.Bool  // see SetIgnoreCapabilities
	gen         atomic.Int64 // boots (Reboot); state saved by a connection of an older boot is dropped
	getROSpecs  atomic.Int64 // GET_ROSPECS requests answered
	acks        atomic.Int64
	accept      atomic.Int64
	processed   atomic.Int64 // fed reads the report loops handled

	mu      sync.Mutex
	ln      net.Listener
	conns   map[*simConn]struct{}
	active  *simConn      // the client holding the reader's one LLRP session
	antOff  map[int]bool  // antennas disconnected (SetAntennaConnected)
	saved   []simROSpec   // KeepROSpecs: the reader's ROSpecs between connections
	savedKA time.Duration // KeepROSpecs: the keepalive between connections
	closed  bool
	wg      sync.WaitGroup
}

// New returns a simulator; call Listen to start it.
func New(opts Options) *Simulator {
	if opts.Antennas <= 0 {
		opts.Antennas = 4
	}
	opts.Antennas = min(opts.Antennas, 65535) // an LLRP antenna id is a u16
	if opts.Manufacturer == 0 {
		opts.Manufacturer = llrp.VendorImpinj
	}
	if opts.Model == 0 {
		opts.Model = 2001002
	}
	if opts.Firmware == "" {
		opts.Firmware = "5.14.0.240"
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Simulator{opts: opts, log: opts.Logger.With("component", "llrp-sim"), conns: map[*simConn]struct{}{}}
	s.boot.Store(time.Now().UnixNano())
	s.refuse.Store(opts.RefuseConnections)
	return s
}

// Listen starts serving on addr (e.g. "127.0.0.1:0") and returns the bound
// address.
func (s *Simulator) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("llrp simulator: listen on %s: %w", addr, err)
	}
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	s.mu.Lock()
	if s.closed || s.ln != nil {
		s.mu.Unlock()
		ln.Close()
		return nil, errors.New("llrp simulator: already listening or closed")
	}
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return ln.Addr(), nil
}

func (s *Simulator) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		s.accept.Add(1)
		c := &simConn{sim: s, nc: nc, feed: make(chan reader.Read, s.opts.QueueSize), done: make(chan struct{}),
			kaChange: make(chan struct{}, 1), rospecs: map[uint32]*simROSpec{}}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go c.serve()
	}
}

// Feed reports that tag r.EPC is seen now at antenna r.Antenna with
// r.RSSI. It never blocks: when the connection's queue is full the oldest
// read is dropped, like a reader's report buffer.
func (s *Simulator) Feed(r reader.Read) {
	s.mu.Lock()
	c := s.active
	s.mu.Unlock()
	if c == nil || r.IsStatus() {
		return
	}
	s.mu.Lock()
	off := s.antOff[r.Antenna]
	s.mu.Unlock()
	if off {
		return // a disconnected antenna reads nothing
	}
	for {
		select {
		case c.feed <- r:
			return
		default:
		}
		select {
		case <-c.feed:
		default:
		}
	}
}

// uptime is the reader's uptime in µs at t.
func (s *Simulator) uptime(t time.Time) uint64 {
	return uint64(max(0, t.UnixNano()-s.boot.Load()) / 1000)
}

// DropConnections closes every client socket, like a reader restart: its
// uptime starts again from zero.
//
// With KeepROSpecs it is a network cut instead: the reader keeps its
// ROSpecs and its uptime (Reboot is the restart).
func (s *Simulator) DropConnections() {
	if !s.opts.KeepROSpecs {
		s.boot.Store(time.Now().UnixNano())
	}
	s.mu.Lock()
	for c := range s.conns {
		c.close()
	}
	s.mu.Unlock()
}

// Reboot is a reader restart back to its defaults: clients are dropped,
// uptime starts from zero and (with KeepROSpecs) its ROSpecs and keepalive
// are gone.
func (s *Simulator) Reboot() {
	s.gen.Add(1)
	s.mu.Lock()
	s.saved, s.savedKA = nil, 0
	s.mu.Unlock()
	s.boot.Store(time.Now().UnixNano())
	s.DropConnections()
}

// SetAntennaConnected connects or disconnects antenna a (a loose cable): a
// disconnected antenna reads nothing, GET_READER_CONFIG reports it, and a
// client that asked for AntennaEvents gets one on every change.
func (s *Simulator) SetAntennaConnected(a int, connected bool) {
	s.mu.Lock()
	if s.antOff == nil {
		s.antOff = map[int]bool{}
	}
	changed := s.antOff[a] == connected
	s.antOff[a] = !connected
	c := s.active
	s.mu.Unlock()
	if !changed || c == nil {
		return
	}
	c.mu.Lock()
	on := c.antEv
	c.mu.Unlock()
	if on {
		_ = c.event(llrp.ReaderEventNotification{Antennas: []llrp.AntennaEvent{{AntennaID: uint16(a), Connected: connected}}})
	}
}

// GetROSpecsAnswered counts GET_ROSPECS requests the reader answered.
func (s *Simulator) GetROSpecsAnswered() int64 { return s.getROSpecs.Load() }

// SetKeepaliveSilent stops (true) or resumes sending keepalives, to
// simulate a hung reader.
func (s *Simulator) SetKeepaliveSilent(silent bool) { s.silent.Store(silent) }

// SetRefuse makes the reader refuse (true) or accept new clients.
func (s *Simulator) SetRefuse(refuse bool) { s.refuse.Store(refuse) }

// KeepaliveAcks counts KEEPALIVE_ACKs received from clients.
func (s *Simulator) KeepaliveAcks() int64 { return s.acks.Load() }

// Accepted counts TCP connections accepted.
func (s *Simulator) Accepted() int64 { return s.accept.Load() }

// Close stops the listener and every connection.
func (s *Simulator) Close() error {
	s.mu.Lock()
	s.closed = true
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	for c := range s.conns {
		c.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// SetRejectReset makes SET_READER_CONFIG with a factory reset fail, like
// readers that do not allow it.
func (s *Simulator) SetRejectReset(reject bool) { s.rejectReset.Store(reject) }

// SetIgnoreCapabilities makes the reader never answer
// GET_READER_CAPABILITIES (some LLRP peers do not implement it).
func (s *Simulator) SetIgnoreCapabilities(ignore bool) { s.noCaps.Store(ignore) }

// Processed is how many fed reads the report loops handled.
func (s *Simulator) Processed() int64 { return s.processed.Load() }

// PendingTags counts tags held by the active client's ROSpecs, not yet
// reported.
func (s *Simulator) PendingTags() int {
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

// InjectRaw writes msg to the connected client as it is, e.g. a malformed
// report (`rfidgw sim` with garbage:); an error when no client is connected.
func (s *Simulator) InjectRaw(msg []byte) error { return s.injectRaw(msg) }

// injectRaw writes a raw message to the connected client (tests of
// malformed reports).
func (s *Simulator) injectRaw(msg []byte) error {
	s.mu.Lock()
	c := s.active
	s.mu.Unlock()
	if c == nil {
		return errors.New("llrp simulator: no client")
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(msg)
	return err
}

// Addr is the listening address (nil before Listen).
func (s *Simulator) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// ROSpec states.
const (
	rosDisabled uint8 = 0
	rosInactive uint8 = 1
	rosActive   uint8 = 2
)

type simROSpec struct {
	spec    llrp.ROSpec
	state   uint8
	pending []llrp.TagReport
}

// simConn is one client connection of the simulator.
type simConn struct {
	sim       *Simulator
	nc        net.Conn
	feed      chan reader.Read
	done      chan struct{}
	closeOnce sync.Once
	kaChange  chan struct{}

	wmu     sync.Mutex // serializes writes and msgID
	msgID   uint32
	wbuf    []byte
	mu      sync.Mutex // guards the fields below
	ka      time.Duration
	antEv   bool // the client asked for AntennaEvents
	rospecs map[uint32]*simROSpec
}

func (c *simConn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

// write sends m; with id 0 it uses the reader's own message counter.
func (c *simConn) write(m llrp.Message, id uint32) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if id == 0 {
		c.msgID++
		id = c.msgID
	}
	c.wbuf = llrp.AppendMessage(c.wbuf[:0], llrp.Version101, id, m)
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Write(c.wbuf)
	if err != nil {
		c.close()
	}
	return err
}

func (c *simConn) event(ev llrp.ReaderEventNotification) error {
	s := c.sim
	if s.opts.UptimeOnly {
		ev.Timestamp, ev.TimestampUptime = s.uptime(time.Now()), true
	} else {
		ev.Timestamp = uint64(time.Now().Add(s.opts.ClockOffset).UnixMicro())
	}
	return c.write(&ev, 0)
}

func (c *simConn) serve() {
	s := c.sim
	defer s.wg.Done()
	defer func() {
		c.close()
		s.mu.Lock()
		delete(s.conns, c)
		if s.active == c {
			s.active = nil
		}
		s.mu.Unlock()
	}()
	if tc, ok := c.nc.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			s.log.Debug("tls handshake failed", "err", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
	}
	s.mu.Lock()
	refused := s.refuse.Load() || s.active != nil
	if !refused {
		s.active = c
	}
	s.mu.Unlock()
	if refused {
		_ = c.event(llrp.ReaderEventNotification{HasConnectionAttempt: true, ConnectionStatus: llrp.ConnFailedClientInitiated})
		return
	}
	if s.opts.KeepROSpecs {
		gen := s.gen.Load()
		s.mu.Lock()
		saved, ka := s.saved, s.savedKA
		s.mu.Unlock()
		c.mu.Lock()
		for _, r := range saved {
			c.rospecs[r.spec.ID] = &simROSpec{spec: r.spec, state: r.state}
		}
		c.ka = ka
		c.mu.Unlock()
		c.kaChange <- struct{}{} // buffered, empty on a new connection
		defer func() {
			c.mu.Lock()
			var keep []simROSpec
			for _, r := range c.rospecs {
				keep = append(keep, simROSpec{spec: r.spec, state: r.state})
			}
			ka := c.ka
			c.mu.Unlock()
			s.mu.Lock()
			if s.gen.Load() == gen {
				s.saved, s.savedKA = keep, ka
			}
			s.mu.Unlock()
		}()
	}
	if err := c.event(llrp.ReaderEventNotification{HasConnectionAttempt: true, ConnectionStatus: llrp.ConnSuccess}); err != nil {
		return
	}
	s.wg.Add(2)
	go c.keepaliveLoop()
	go c.reportLoop()

	fr := llrp.NewFramer(bufio.NewReader(c.nc))
	for {
		h, body, err := fr.ReadMessage()
		if err != nil {
			return
		}
		if !c.handle(h, body) {
			return
		}
	}
}

func success(kind llrp.MessageType) *llrp.StatusResponse { return &llrp.StatusResponse{Kind: kind} }

func failure(kind llrp.MessageType, code llrp.StatusCode, format string, args ...any) *llrp.StatusResponse {
	return &llrp.StatusResponse{Kind: kind, Status: llrp.Status{Code: code, Description: fmt.Sprintf(format, args...)}}
}

// handle answers one client message; false ends the connection.
func (c *simConn) handle(h llrp.Header, body []byte) bool {
	s := c.sim
	if h.Version != llrp.Version101 {
		_ = c.write(failure(llrp.MsgErrorMessage, llrp.StatusUnsupportedVersion, "only LLRP 1.0.1 is supported"), h.ID)
		return true
	}
	var rsp llrp.Message
	switch h.Type {
	case llrp.MsgGetReaderCapabilities:
		if s.noCaps.Load() {
			return true // like llrpjs' dummy reader: never answered
		}
		rsp = &llrp.GetReaderCapabilitiesResponse{
			HasGeneral: true,
			General: llrp.GeneralCapabilities{MaxAntennas: uint16(s.opts.Antennas), HasUTCClock: !s.opts.UptimeOnly,
				Manufacturer: s.opts.Manufacturer, Model: s.opts.Model, Firmware: s.opts.Firmware, NumGPIs: 4, NumGPOs: 4},
			HasLLRP: true,
			LLRP: llrp.LLRPCapabilities{CanReportBufferFillWarning: true, SupportsEventAndReportHolding: true,
				MaxPriorityLevels: 1, MaxROSpecs: 1, MaxSpecsPerROSpec: 32, MaxInventoryParamSpecsPerAI: 1,
				MaxAccessSpecs: 1508, MaxOpSpecsPerAccessSpec: 8},
		}
	case llrp.MsgSetReaderConfig:
		var m llrp.SetReaderConfig
		if err := m.DecodeBody(body); err != nil {
			rsp = failure(llrp.MsgSetReaderConfigResponse, llrp.StatusParameterError, "%v", err)
			break
		}
		if m.ResetToFactoryDefault && s.rejectReset.Load() {
			rsp = failure(llrp.MsgSetReaderConfigResponse, llrp.StatusFieldError, "ResetToFactoryDefault not allowed")
			break
		}
		c.mu.Lock()
		if m.ResetToFactoryDefault {
			clear(c.rospecs)
			c.ka = 0
			c.antEv = false
		}
		for _, e := range m.Events {
			if e.Event == llrp.EventAntenna {
				c.antEv = e.On
			}
		}
		if m.Keepalive != nil {
			c.ka = 0
			if m.Keepalive.Trigger == 1 {
				c.ka = time.Duration(m.Keepalive.IntervalMS) * time.Millisecond
			}
		}
		c.mu.Unlock()
		select {
		case c.kaChange <- struct{}{}:
		default:
		}
		rsp = success(llrp.MsgSetReaderConfigResponse)
	case llrp.MsgAddROSpec:
		rsp = c.addROSpec(body)
	case llrp.MsgGetReaderConfig:
		var m llrp.GetReaderConfig
		if err := m.DecodeBody(body); err != nil {
			rsp = failure(llrp.MsgGetReaderConfigResponse, llrp.StatusParameterError, "%v", err)
			break
		}
		cfg := &llrp.GetReaderConfigResponse{}
		if m.RequestedData == 0 || m.RequestedData == llrp.ConfigAntennaProperties {
			s.mu.Lock()
			for a := 1; a <= s.opts.Antennas && a <= 256; a++ {
				if m.AntennaID == 0 || int(m.AntennaID) == a {
					cfg.Antennas = append(cfg.Antennas, llrp.AntennaProperty{AntennaID: uint16(a), Connected: !s.antOff[a], GainCdBi: 600})
				}
			}
			s.mu.Unlock()
		}
		rsp = cfg
	case llrp.MsgGetROSpecs:
		s.getROSpecs.Add(1)
		list := &llrp.GetROSpecsResponse{}
		c.mu.Lock()
		for _, r := range c.rospecs {
			ro := r.spec
			ro.CurrentState = r.state
			list.ROSpecs = append(list.ROSpecs, ro)
		}
		c.mu.Unlock()
		rsp = list
	case llrp.MsgDeleteROSpec, llrp.MsgEnableROSpec, llrp.MsgStartROSpec, llrp.MsgStopROSpec, llrp.MsgDisableROSpec:
		var m llrp.ROSpecCommand
		m.Kind = h.Type
		if err := m.DecodeBody(body); err != nil {
			rsp = failure(responseTo(h.Type), llrp.StatusParameterError, "%v", err)
			break
		}
		rsp = c.rospecCommand(h.Type, m.ROSpecID)
	case llrp.MsgKeepaliveAck:
		s.acks.Add(1)
		return true
	case llrp.MsgEnableEventsAndReports:
		return true // nothing is held; no response by definition
	case llrp.MsgCloseConnection:
		// Free the client slot before answering, so that the client may
		// reconnect as soon as it has the response.
		s.mu.Lock()
		if s.active == c {
			s.active = nil
		}
		s.mu.Unlock()
		_ = c.write(success(llrp.MsgCloseConnectionResponse), h.ID)
		return false
	default:
		rsp = failure(llrp.MsgErrorMessage, llrp.StatusUnsupportedMessage, "message type %d unsupported", uint16(h.Type))
	}
	return c.write(rsp, h.ID) == nil
}

func responseTo(t llrp.MessageType) llrp.MessageType {
	switch t {
	case llrp.MsgDeleteROSpec:
		return llrp.MsgDeleteROSpecResponse
	case llrp.MsgEnableROSpec:
		return llrp.MsgEnableROSpecResponse
	case llrp.MsgStartROSpec:
		return llrp.MsgStartROSpecResponse
	case llrp.MsgStopROSpec:
		return llrp.MsgStopROSpecResponse
	case llrp.MsgDisableROSpec:
		return llrp.MsgDisableROSpecResponse
	}
	return llrp.MsgErrorMessage
}

func (c *simConn) addROSpec(body []byte) llrp.Message {
	var m llrp.AddROSpec
	if err := m.DecodeBody(body); err != nil {
		return failure(llrp.MsgAddROSpecResponse, llrp.StatusParameterError, "%v", err)
	}
	r := m.ROSpec
	if r.CurrentState != rosDisabled {
		return failure(llrp.MsgAddROSpecResponse, llrp.StatusFieldError, "ROSpec %d: CurrentState must be Disabled", r.ID)
	}
	if r.ID == 0 {
		return failure(llrp.MsgAddROSpecResponse, llrp.StatusFieldError, "ROSpecID 0 is reserved")
	}
	for _, a := range r.Antennas {
		if int(a) > c.sim.opts.Antennas {
			return failure(llrp.MsgAddROSpecResponse, llrp.StatusFieldError, "antenna %d does not exist (reader has %d)", a, c.sim.opts.Antennas)
		}
	}
	if !r.HasReportSpec {
		// No ROReportSpec: the reader's default, one report per tag.
		r.HasReportSpec, r.ReportTrigger, r.ReportN = true, llrp.ReportNTagsOrEndOfAISpec, 1
		r.ContentSelector = llrp.SelAntennaID | llrp.SelPeakRSSI | llrp.SelFirstSeen | llrp.SelLastSeen | llrp.SelTagSeenCount
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.rospecs[r.ID]; ok {
		return failure(llrp.MsgAddROSpecResponse, llrp.StatusFieldError, "ROSpec %d already exists", r.ID)
	}
	if len(c.rospecs) >= 1 {
		return failure(llrp.MsgAddROSpecResponse, llrp.StatusOverflowParameter, "reader supports 1 ROSpec; delete the existing one first")
	}
	c.rospecs[r.ID] = &simROSpec{spec: r}
	return success(llrp.MsgAddROSpecResponse)
}

func (c *simConn) rospecCommand(t llrp.MessageType, id uint32) llrp.Message {
	rt := responseTo(t)
	c.mu.Lock()
	var targets []*simROSpec
	if id == 0 && (t == llrp.MsgDeleteROSpec || t == llrp.MsgEnableROSpec || t == llrp.MsgDisableROSpec) {
		for _, r := range c.rospecs {
			targets = append(targets, r)
		}
	} else if r, ok := c.rospecs[id]; ok {
		targets = append(targets, r)
	} else {
		c.mu.Unlock()
		return failure(rt, llrp.StatusFieldError, "no ROSpec with id %d", id)
	}
	var flush [][]llrp.TagReport
	for _, r := range targets {
		switch t {
		case llrp.MsgDeleteROSpec:
			delete(c.rospecs, r.spec.ID)
			r.state = rosDisabled
		case llrp.MsgEnableROSpec:
			if r.state == rosDisabled {
				r.state = rosInactive
				if r.spec.StartTrigger == llrp.StartImmediate {
					r.state = rosActive
				}
			}
		case llrp.MsgStartROSpec:
			if r.state != rosInactive {
				c.mu.Unlock()
				return failure(rt, llrp.StatusFieldError, "ROSpec %d is not enabled and inactive", id)
			}
			r.state = rosActive
		case llrp.MsgStopROSpec, llrp.MsgDisableROSpec:
			if t == llrp.MsgStopROSpec && r.state != rosActive {
				c.mu.Unlock()
				return failure(rt, llrp.StatusFieldError, "ROSpec %d is not active", id)
			}
			r.state = rosInactive
			if t == llrp.MsgDisableROSpec {
				r.state = rosDisabled
			}
			// End of the ROSpec: pending tags are reported now.
			if len(r.pending) > 0 {
				flush = append(flush, r.pending)
				r.pending = nil
			}
		}
	}
	c.mu.Unlock()
	for _, tags := range flush {
		if c.write(&llrp.ROAccessReport{Tags: tags}, 0) != nil {
			break
		}
	}
	return success(rt)
}

func (c *simConn) keepaliveLoop() {
	defer c.sim.wg.Done()
	var tick <-chan time.Time
	var t *time.Ticker
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		select {
		case <-c.done:
			return
		case <-c.kaChange:
			c.mu.Lock()
			ka := c.ka
			c.mu.Unlock()
			if t != nil {
				t.Stop()
				t, tick = nil, nil
			}
			if ka > 0 {
				t = time.NewTicker(ka)
				tick = t.C
			}
		case <-tick:
			if c.sim.silent.Load() {
				continue
			}
			if c.write(&llrp.Empty{Kind: llrp.MsgKeepalive}, 0) != nil {
				return
			}
		}
	}
}

// reportLoop turns fed reads into TagReportData of the active ROSpec and
// sends them as its report trigger says.
func (c *simConn) reportLoop() {
	defer c.sim.wg.Done()
	timer := time.NewTicker(time.Hour)
	defer timer.Stop()
	var period time.Duration
	for {
		select {
		case <-c.done:
			return
		case r := <-c.feed:
			tags, p := c.add(r)
			c.sim.processed.Add(1)
			if p != period {
				period = p
				if p > 0 {
					timer.Reset(p)
				}
			}
			if len(tags) > 0 && c.write(&llrp.ROAccessReport{Tags: tags}, 0) != nil {
				return
			}
		case <-timer.C:
			tags := c.takeTimed()
			if len(tags) > 0 && c.write(&llrp.ROAccessReport{Tags: tags}, 0) != nil {
				return
			}
		}
	}
}

// reportPeriod is the flush period of a time-based report trigger.
func reportPeriod(r *llrp.ROSpec) time.Duration {
	switch r.ReportTrigger {
	case llrp.ReportNSecondsOrEndOfAI, llrp.ReportNSecondsOrEndOfRO:
		return time.Duration(r.ReportN) * time.Second
	case llrp.ReportNMillisOrEndOfAI, llrp.ReportNMillisOrEndOfRO:
		return time.Duration(r.ReportN) * time.Millisecond
	}
	return 0
}

// add files read r under the active ROSpec that covers its antenna and
// returns the tags to report now plus the ROSpec's timed flush period.
func (c *simConn) add(r reader.Read) ([]llrp.TagReport, time.Duration) {
	epc, err := reader.NormalizeEPC(r.EPC)
	if err != nil || r.Antenna < 1 || r.Antenna > c.sim.opts.Antennas {
		c.sim.log.Debug("fed read ignored", "epc", r.EPC, "antenna", r.Antenna, "antennas", c.sim.opts.Antennas, "err", err)
		return nil, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var ro *simROSpec
	for _, x := range c.rospecs {
		if x.state == rosActive && x.spec.HasAntenna(uint16(r.Antenna)) {
			ro = x
			break
		}
	}
	if ro == nil {
		return nil, 0
	}
	ro.pending = append(ro.pending, c.tagReport(&ro.spec, epc, r))
	period := reportPeriod(&ro.spec)
	switch ro.spec.ReportTrigger {
	case llrp.ReportNTagsOrEndOfAISpec, llrp.ReportNTagsOrEndOfROSpec:
		if ro.spec.ReportN > 0 && len(ro.pending) >= int(ro.spec.ReportN) {
			tags := ro.pending
			ro.pending = nil
			return tags, period
		}
	}
	return nil, period
}

func (c *simConn) takeTimed() []llrp.TagReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	var tags []llrp.TagReport
	for _, x := range c.rospecs {
		if reportPeriod(&x.spec) > 0 && len(x.pending) > 0 {
			tags = append(tags, x.pending...)
			x.pending = nil
		}
	}
	return tags
}

// tagReport builds the TagReportData of a read with the fields the
// ROSpec's content selector asks for.
func (c *simConn) tagReport(ro *llrp.ROSpec, epc string, r reader.Read) llrp.TagReport {
	s := c.sim
	sel := ro.ContentSelector
	t := llrp.TagReport{EPC: epc}
	now := time.Now()
	if sel&llrp.SelROSpecID != 0 {
		t.ROSpecID, t.Fields = ro.ID, t.Fields|llrp.HasROSpecID
	}
	if sel&llrp.SelSpecIndex != 0 {
		t.SpecIndex, t.Fields = 1, t.Fields|llrp.HasSpecIndex
	}
	if sel&llrp.SelIPSpecID != 0 {
		t.IPSpecID, t.Fields = ro.InventoryParamSpecID, t.Fields|llrp.HasIPSpecID
	}
	if sel&llrp.SelAntennaID != 0 {
		t.AntennaID, t.Fields = uint16(r.Antenna), t.Fields|llrp.HasAntennaID
	}
	if sel&llrp.SelPeakRSSI != 0 {
		t.PeakRSSI, t.Fields = int8(max(-128, min(127, math.Round(r.RSSI)))), t.Fields|llrp.HasPeakRSSI
		if s.opts.ImpinjPeakRSSI {
			t.ImpinjPeakRSSI = int16(max(-32768, min(32767, math.Round(r.RSSI*100))))
			t.Fields |= llrp.HasImpinjPeakRSSI
		}
	}
	if sel&llrp.SelChannelIndex != 0 {
		t.ChannelIndex, t.Fields = 1, t.Fields|llrp.HasChannelIndex
	}
	if sel&(llrp.SelFirstSeen|llrp.SelLastSeen) != 0 {
		// A reader stamps the moment it saw the tag, not when the report
		// left: a fed read carries that moment.
		if !r.Time.IsZero() && r.Time.Before(now) {
			now = r.Time
		}
		if s.opts.UptimeOnly {
			up := s.uptime(now)
			if sel&llrp.SelFirstSeen != 0 {
				t.FirstSeenUp, t.Fields = up, t.Fields|llrp.HasFirstSeenUptime
			}
			if sel&llrp.SelLastSeen != 0 {
				t.LastSeenUp, t.Fields = up, t.Fields|llrp.HasLastSeenUptime
			}
		} else {
			utc := uint64(now.Add(s.opts.ClockOffset).UnixMicro())
			if sel&llrp.SelFirstSeen != 0 {
				t.FirstSeenUTC, t.Fields = utc, t.Fields|llrp.HasFirstSeenUTC
			}
			if sel&llrp.SelLastSeen != 0 {
				t.LastSeenUTC, t.Fields = utc, t.Fields|llrp.HasLastSeenUTC
			}
		}
	}
	if sel&llrp.SelTagSeenCount != 0 {
		t.TagSeenCount, t.Fields = 1, t.Fields|llrp.HasTagSeenCount
	}
	return t
}

// Pump reports the reads next fills in (EPC, antenna, RSSI; the time is
// set to when the read is sent) to the connected client under its active
// ROSpec, honouring its report trigger like Feed, but without Feed's
// queue: at rate reads per second, or with rate 0 as fast as the client
// takes them (TCP back-pressure, nothing dropped). Several reports go out
// in one write, as a busy reader's stream does. It waits for a client with
// an active ROSpec, returns the reads sent when ctx ends, and an error
// when the client goes away.
func (s *Simulator) Pump(ctx context.Context, rate float64, next func(r *reader.Read)) (int64, error) {
	var c *simConn
	for c == nil {
		s.mu.Lock()
		if a := s.active; a != nil {
			a.mu.Lock()
			for _, r := range a.rospecs {
				if r.state == rosActive {
					c = a
				}
			}
			a.mu.Unlock()
		}
		s.mu.Unlock()
		if c == nil {
			select {
			case <-ctx.Done():
				return 0, nil
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	const most = 256 // reads per write at most
	var (
		sent    int64
		buf     []byte
		start   = time.Now()
		period  time.Duration // of a time report trigger
		flushed = start
	)
	for ctx.Err() == nil {
		n := int64(most)
		now := time.Now()
		if rate > 0 {
			due := int64(now.Sub(start).Seconds()*rate) - sent
			if due <= 0 {
				wait := time.Duration(float64(time.Second) / rate)
				select {
				case <-ctx.Done():
				case <-time.After(min(max(wait, 500*time.Microsecond), 5*time.Millisecond)):
				}
				continue
			}
			n = min(n, due)
		}
		buf = buf[:0]
		c.wmu.Lock()
		for i := int64(0); i < n; i++ {
			r := reader.Read{Time: now}
			next(&r)
			tags, p := c.add(r)
			period = p
			if len(tags) > 0 {
				c.msgID++
				buf = llrp.AppendMessage(buf, llrp.Version101, c.msgID, &llrp.ROAccessReport{Tags: tags})
			}
		}
		// A time trigger: what the period collected goes out when it ends.
		if period > 0 && now.Sub(flushed) >= period {
			if tags := c.takeTimed(); len(tags) > 0 {
				c.msgID++
				buf = llrp.AppendMessage(buf, llrp.Version101, c.msgID, &llrp.ROAccessReport{Tags: tags})
			}
			flushed = now
		}
		var err error
		if len(buf) > 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			_, err = c.nc.Write(buf)
		}
		c.wmu.Unlock()
		sent += n
		s.processed.Add(n)
		if err != nil {
			if ctx.Err() != nil {
				return sent, nil
			}
			c.close()
			return sent, fmt.Errorf("llrp simulator: pump: %w", err)
		}
	}
	return sent, nil
}
