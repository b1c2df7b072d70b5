package llrp

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// conn is one LLRP connection. Everything on it happens in the goroutine
// that owns it: requests, keepalive acks and report delivery, so there is no
// locking and backpressure from the sink reaches the reader through TCP.
type conn struct {
	s      *Source
	ctx    context.Context
	nc     net.Conn
	br     *bufio.Reader
	fr     *Framer
	wbuf   []byte
	nextID uint32
	stop   func() bool

	link       *reader.Link
	readsTotal reader.Counter // rfidgw_reads_total of this reader
	online     bool           // link.Online was called: antenna events go to the edge
	tags       []TagReport
	reads      []reader.Read
	clock      readClock
	errLog     rateLog
}

// connect dials the reader and waits for its ConnectionAttemptEvent.
func (s *Source) connect(ctx context.Context) (*conn, error) {
	d := &net.Dialer{Timeout: s.dialTimeout, KeepAlive: 30 * time.Second}
	var nc net.Conn
	var err error
	if s.tls != nil {
		nc, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to llrp reader %q at %s: %w", s.id, s.addr, err)
	}
	br := bufio.NewReaderSize(nc, 16<<10)
	c := &conn{
		s:     s,
		ctx:   ctx,
		nc:    nc,
		br:    br,
		fr:    NewFramer(br),
		clock: readClock{utc: &s.clock},
	}
	// Cancelling ctx interrupts a blocked read or write.
	c.stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })

	deadline := s.now().Add(s.requestTimeout)
	for {
		h, body, err := c.readUntil(deadline, "the ConnectionAttemptEvent")
		if err != nil {
			c.close()
			return nil, err
		}
		if h.Type != MsgReaderEventNotification {
			continue // nothing else is expected before it; ignore it like the reader would
		}
		var ev ReaderEventNotification
		if err := ev.DecodeBody(body); err != nil {
			c.close()
			return nil, fmt.Errorf("llrp reader %q at %s: %w", s.id, s.addr, err)
		}
		if !ev.HasConnectionAttempt {
			continue
		}
		// The event's timestamp is the reader's clock right now: the first
		// sample of its offset, taken before any held report arrives.
		s.clock.Reset()
		s.connClock, s.connClockKnown = 0, false
		if !ev.TimestampUptime && ev.Timestamp != 0 {
			rt, recv := time.UnixMicro(int64(ev.Timestamp)), s.now()
			s.clock.Observe(rt, recv)
			s.connClock, s.connClockKnown = rt.Sub(recv), true
		}
		if ev.ConnectionStatus != ConnSuccess {
			c.close()
			return nil, fmt.Errorf("%w: %q at %s: %s (ConnectionAttemptEvent status %d)",
				ErrConnectionRefused, s.id, s.addr, ConnectionStatusText(ev.ConnectionStatus), ev.ConnectionStatus)
		}
		// A reader configured to hold events and reports across reconnects
		// (LLRP EventsAndReports) sends none until told; no response comes.
		if _, err := c.send(&Empty{Kind: MsgEnableEventsAndReports}); err != nil {
			c.close()
			return nil, err
		}
		return c, nil
	}
}

func (c *conn) close() {
	c.stop()
	_ = c.nc.Close()
}

// readUntil reads the next message, failing with ErrResponseTimeout at
// deadline. waitingFor names what the caller waits for, for the error.
func (c *conn) readUntil(deadline time.Time, waitingFor string) (Header, []byte, error) {
	if err := c.setReadDeadline(deadline); err != nil {
		return Header{}, nil, err
	}
	h, body, err := c.fr.ReadMessage()
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && c.ctx.Err() == nil {
			return h, nil, fmt.Errorf("%w: %q at %s did not send %s within %v", ErrResponseTimeout, c.s.id, c.s.addr, waitingFor, c.s.requestTimeout)
		}
		return h, nil, c.readErr(err)
	}
	return h, body, nil
}

// setReadDeadline sets the deadline and then checks ctx: if ctx ended in
// between, the cancel hook's past deadline may have been overwritten.
func (c *conn) setReadDeadline(t time.Time) error {
	if err := c.nc.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ctx.Err()
}

func (c *conn) readErr(err error) error {
	if c.ctx.Err() != nil {
		return c.ctx.Err()
	}
	if errors.Is(err, ErrBadHeader) {
		c.s.m.FrameErrors(c.s.id).Inc()
	}
	return fmt.Errorf("reading from llrp reader %q at %s: %w", c.s.id, c.s.addr, err)
}

// sendID writes m with message id id.
func (c *conn) sendID(m Message, id uint32) error {
	c.wbuf = AppendMessage(c.wbuf[:0], Version101, id, m)
	if err := c.nc.SetWriteDeadline(c.s.now().Add(c.s.requestTimeout)); err != nil {
		return err
	}
	if err := c.ctx.Err(); err != nil { // see setReadDeadline
		return err
	}
	if _, err := c.nc.Write(c.wbuf); err != nil {
		if c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		return fmt.Errorf("sending %v to llrp reader %q at %s: %w", m.Type(), c.s.id, c.s.addr, err)
	}
	return nil
}

func (c *conn) send(m Message) (uint32, error) {
	c.nextID++
	return c.nextID, c.sendID(m, c.nextID)
}

// request sends m and waits for the response of type want with the same
// message id (readers that answer with another id or type are not trusted
// to have answered this request). Messages arriving meanwhile are handled
// as usual. A response with an error status, or an ERROR_MESSAGE for this
// id, is an error wrapping ErrStatus.
func (c *conn) request(m Message, want MessageType) (Message, error) {
	id, err := c.send(m)
	if err != nil {
		return nil, err
	}
	deadline := c.s.now().Add(c.s.requestTimeout)
	for {
		h, body, err := c.readUntil(deadline, want.String())
		if err != nil {
			return nil, err
		}
		switch {
		case h.Type == want && h.ID == id:
			rsp, err := DecodeMessage(h, body)
			if err != nil {
				c.s.m.FrameErrors(c.s.id).Inc()
				return nil, err
			}
			if st := statusOf(rsp); st != nil {
				if err := st.Err(); err != nil {
					return rsp, fmt.Errorf("llrp reader %q rejected %v: %w", c.s.id, m.Type(), err)
				}
			}
			return rsp, nil
		case h.Type == MsgErrorMessage && h.ID == id:
			var e StatusResponse
			e.Kind = MsgErrorMessage
			if err := e.DecodeBody(body); err != nil {
				return nil, fmt.Errorf("llrp reader %q answered %v with a bad ERROR_MESSAGE: %w", c.s.id, m.Type(), err)
			}
			err := e.Status.Err()
			if err == nil {
				err = fmt.Errorf("%w: ERROR_MESSAGE with status success", ErrStatus)
			}
			return nil, fmt.Errorf("llrp reader %q answered %v with ERROR_MESSAGE: %w", c.s.id, m.Type(), err)
		default:
			if err := c.handle(h, body); err != nil {
				return nil, err
			}
		}
	}
}

func statusOf(m Message) *Status {
	switch r := m.(type) {
	case *StatusResponse:
		return &r.Status
	case *GetReaderCapabilitiesResponse:
		return &r.Status
	case *GetROSpecsResponse:
		return &r.Status
	case *GetReaderConfigResponse:
		return &r.Status
	}
	return nil
}

func (c *conn) capabilities() (*GetReaderCapabilitiesResponse, error) {
	rsp, err := c.request(&GetReaderCapabilities{RequestedData: 0}, MsgGetReaderCapabilitiesResponse)
	if err != nil {
		return nil, err
	}
	caps := rsp.(*GetReaderCapabilitiesResponse)
	if !caps.HasGeneral {
		return caps, fmt.Errorf("%w: llrp reader %q sent capabilities without GeneralDeviceCapabilities", ErrBadParameter, c.s.id)
	}
	return caps, nil
}

// handle processes a message the client did not ask for.
func (c *conn) handle(h Header, body []byte) error {
	switch h.Type {
	case MsgKeepalive:
		return c.sendID(&Empty{Kind: MsgKeepaliveAck}, h.ID)
	case MsgROAccessReport:
		return c.report(body)
	case MsgReaderEventNotification:
		var ev ReaderEventNotification
		if err := ev.DecodeBody(body); err != nil {
			c.s.m.FrameErrors(c.s.id).Inc()
			c.errLog.log(c.s, "bad READER_EVENT_NOTIFICATION", err)
			return nil
		}
		for _, a := range ev.Antennas {
			if err := c.antenna(a.AntennaID, a.Connected); err != nil {
				return err
			}
		}
		if ev.HasConnectionAttempt && ev.ConnectionStatus != ConnSuccess {
			c.s.log.Warn("llrp reader reports a connection attempt by another client", "status", ConnectionStatusText(ev.ConnectionStatus))
		}
		if ev.ConnectionClose {
			return fmt.Errorf("%w: %q at %s sent ConnectionCloseEvent", ErrReaderClosed, c.s.id, c.s.addr)
		}
	case MsgErrorMessage:
		var e StatusResponse
		e.Kind = MsgErrorMessage
		err := e.DecodeBody(body)
		if err == nil {
			err = e.Status.Err()
		}
		c.s.log.Warn("llrp reader sent ERROR_MESSAGE", "id", h.ID, "err", err)
	default:
		c.s.log.Debug("llrp message ignored", "type", h.Type, "id", h.ID)
	}
	return nil
}

// maxPendingReads: reads of buffered reports delivered together at most.
const maxPendingReads = 1024

// report turns one RO_ACCESS_REPORT into reads, added to those waiting
// for the next flush (loop delivers them before it would wait for data).
func (c *conn) report(body []byte) error {
	recv := c.s.now()
	var err error
	c.tags, err = DecodeROAccessReport(c.tags[:0], body)
	if err != nil {
		n := 1
		var re *ReportError
		if errors.As(err, &re) {
			n = re.Count
		}
		c.s.m.FrameErrors(c.s.id).Add(float64(n))
		c.errLog.log(c.s, "bad TagReportData in RO_ACCESS_REPORT", err)
	}
	for i := range c.tags {
		t := &c.tags[i]
		ant := int(t.AntennaID)
		if t.Has(HasAntennaID) && !c.s.cfg.WantsAntenna(ant) {
			continue
		}
		rssi, _ := t.RSSI()
		c.reads = append(c.reads, reader.Read{
			Time:    c.clock.readTime(t, recv),
			Reader:  c.s.id,
			Antenna: ant,
			EPC:     t.EPC,
			RSSI:    rssi,
		})
	}
	return nil
}

// flush delivers the reads of the reports handled since the last flush:
// one hand-off for every report already in the read buffer, however many
// (a reader sends one tag per report).
func (c *conn) flush() error {
	if len(c.reads) == 0 {
		return nil
	}
	err := c.link.Deliver(c.ctx, c.reads)
	n := len(c.reads)
	clear(c.reads) // drop the EPC strings for the GC
	c.reads = c.reads[:0]
	if err != nil {
		return err
	}
	if c.readsTotal == nil {
		c.readsTotal = c.s.m.Reads(c.s.id)
	}
	c.readsTotal.Add(float64(n))
	c.link.Healthy()
	return nil
}

// wholeMessageBuffered reports whether the next message is already in the
// read buffer, so reading it cannot block.
func (c *conn) wholeMessageBuffered() bool {
	n := c.br.Buffered()
	if n < HeaderLen {
		return false
	}
	b, _ := c.br.Peek(HeaderLen)
	return int(binary.BigEndian.Uint32(b[2:])) <= n
}

// rospec is the continuous inventory the client installs: started by
// START_ROSPEC, never stopping by itself, by default one report per tag
// read (ROReportTrigger 1, N=1; report_tags and report_every change it).
// This is plain LLRP 1.0.1, which Impinj and Zebra FX readers both
// accept (report_every's trigger is LLRP 1.1), and the selector asks only
// for fields every reader supports.
func (s *Source) rospec() ROSpec {
	return ROSpec{
		ID:                   rospecID,
		StartTrigger:         StartNull,
		Antennas:             s.antennas,
		InventoryParamSpecID: 1,
		ProtocolID:           1,
		HasReportSpec:        true,
		ReportTrigger:        s.reportTrigger,
		ReportN:              s.reportN,
		ContentSelector:      SelAntennaID | SelChannelIndex | SelPeakRSSI | SelFirstSeen | SelLastSeen | SelTagSeenCount,
	}
}

// session runs one connection: handshake, configuration, inventory, and
// then reports until the connection fails or ctx ends.
func (s *Source) session(ctx context.Context, link *reader.Link) error {
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	c.link = link

	caps, err := c.capabilities()
	if errors.Is(err, ErrResponseTimeout) {
		// Some LLRP peers never answer GET_READER_CAPABILITIES; the
		// inventory does not need the answer. Go on with conservative
		// defaults (antenna count unknown: the configured antennas are
		// not checked) rather than dropping a reader that would work.
		if !s.capsWarned {
			s.capsWarned = true
			s.log.Warn("llrp reader did not answer GET_READER_CAPABILITIES; using conservative defaults (vendor unknown, antennas not checked)",
				"timeout", s.requestTimeout, "err", err)
		}
		caps, err = &GetReaderCapabilitiesResponse{HasGeneral: true}, nil
	}
	if err != nil {
		return err
	}
	if err := s.checkAntennas(caps.General.MaxAntennas); err != nil {
		return err
	}
	kept := false
	if s.installed {
		if kept, err = c.resume(); err != nil {
			return err
		}
	}
	if !kept {
		if err := s.install(c); err != nil {
			return err
		}
	}
	s.installed = true
	g := caps.General
	s.log.Info("llrp reader connected", "addr", s.addr, "vendor", VendorName(g.Manufacturer), "model", g.Model,
		"firmware", g.Firmware, "antennas", g.MaxAntennas, "keepalive", s.keepalive.String(), "rospec_kept", kept)
	if err := link.Online(); err != nil {
		return err
	}
	c.online = true
	if err := c.antennaStates(); err != nil {
		return err
	}

	err = c.loop()
	if ctx.Err() != nil {
		c.closeConnection(true)
	}
	return err
}

// install sets the reader up from scratch: factory reset and keepalive,
// then the gateway's ROSpec, enabled and started.
func (s *Source) install(c *conn) error {
	if err := c.configure(); err != nil {
		return err
	}
	steps := []struct {
		m    Message
		want MessageType
	}{
		{&ROSpecCommand{Kind: MsgDeleteROSpec, ROSpecID: 0}, MsgDeleteROSpecResponse},
		{&AddROSpec{ROSpec: s.rospec()}, MsgAddROSpecResponse},
		{&ROSpecCommand{Kind: MsgEnableROSpec, ROSpecID: rospecID}, MsgEnableROSpecResponse},
		{&ROSpecCommand{Kind: MsgStartROSpec, ROSpecID: rospecID}, MsgStartROSpecResponse},
	}
	for i, step := range steps {
		_, err := c.request(step.m, step.want)
		if i == 0 && errors.Is(err, ErrStatus) {
			// Nothing to delete is not a failure; a real conflict shows
			// up as an ADD_ROSPEC error with the reader's reason.
			s.log.Warn("llrp reader did not delete old ROSpecs", "err", err)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// resume runs on a reconnect within one gateway run. It asks the reader
// for its ROSpecs (GET_ROSPECS): when the gateway's ROSpec is still there
// as sent, the reader did not lose its settings; the ROSpec is re-enabled
// and started if it has to be, and reports the reader held during the cut
// (ENABLE_EVENTS_AND_REPORTS) are not erased by a factory reset. When it
// is gone or changed (the reader rebooted to defaults, or another client
// reset it) resume says so with a log line and
// rfidgw_reader_config_reapplied_total, and the caller installs it again.
// A reader that does not support GET_ROSPECS is installed again silently,
// as on every connection before.
func (c *conn) resume() (bool, error) {
	rsp, err := c.request(&Empty{Kind: MsgGetROSpecs}, MsgGetROSpecsResponse)
	if errors.Is(err, ErrStatus) {
		c.s.log.Debug("llrp reader cannot list its ROSpecs; configuring it again", "err", err)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	want := c.s.rospec()
	var have *ROSpec
	for i, ro := range rsp.(*GetROSpecsResponse).ROSpecs {
		if ro.ID == rospecID {
			have = &rsp.(*GetROSpecsResponse).ROSpecs[i]
		}
	}
	why := ""
	switch {
	case have == nil:
		why = "the reader no longer has the gateway's ROSpec (rebooted to its defaults, or reset by another client)"
	case !sameROSpec(have, &want):
		why = "the reader's ROSpec differs from the gateway's (changed by another client)"
	}
	if why != "" {
		c.s.m.ConfigReapplied(c.s.id).Inc()
		c.s.log.Warn("llrp reader lost its configuration; applying it again", "why", why)
		return false, nil
	}
	// The keepalive is part of the reader config, which survives with the
	// ROSpec; sending it again costs one round trip and covers readers
	// that keep ROSpecs but not the config.
	ka := &KeepaliveSpec{Trigger: 1, IntervalMS: uint32(c.s.keepalive / time.Millisecond)}
	if _, err := c.request(&SetReaderConfig{Events: antennaEvents, Keepalive: ka}, MsgSetReaderConfigResponse); err != nil {
		return false, err
	}
	if have.CurrentState == 0 { // disabled
		if _, err := c.request(&ROSpecCommand{Kind: MsgEnableROSpec, ROSpecID: rospecID}, MsgEnableROSpecResponse); err != nil {
			return false, err
		}
	}
	if have.CurrentState != 2 { // not active
		if _, err := c.request(&ROSpecCommand{Kind: MsgStartROSpec, ROSpecID: rospecID}, MsgStartROSpecResponse); err != nil {
			return false, err
		}
	}
	return true, nil
}

// sameROSpec compares two ROSpecs as encoded, ignoring their state.
func sameROSpec(a, b *ROSpec) bool {
	x, y := *a, *b
	x.CurrentState, y.CurrentState = 0, 0
	return string(x.append(nil)) == string(y.append(nil))
}

// antennaEvents asks the reader for AntennaEvent notifications.
var antennaEvents = []EventNotificationState{{Event: EventAntenna, On: true}}

// antennaStates asks which antennas are connected (GET_READER_CONFIG,
// AntennaProperties) right after the reader is online: the edge starts a
// reconnected reader with all antennas connected, and an antenna that came
// loose during a cut sends no event. A reader that does not answer is
// left to its AntennaEvents.
func (c *conn) antennaStates() error {
	rsp, err := c.request(&GetReaderConfig{RequestedData: ConfigAntennaProperties}, MsgGetReaderConfigResponse)
	if errors.Is(err, ErrStatus) || errors.Is(err, ErrResponseTimeout) {
		c.s.log.Debug("llrp reader did not report its antennas", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	for _, a := range rsp.(*GetReaderConfigResponse).Antennas {
		if err := c.antenna(a.AntennaID, a.Connected); err != nil {
			return err
		}
	}
	return nil
}

// antenna records that the reader reports antenna id (dis)connected: the
// metric, a log line on a change, and a status read for the edge (an
// antenna the config does not use is only logged).
func (c *conn) antenna(id uint16, connected bool) error {
	if id == 0 || id > maxAntennaProperties || !c.online {
		return nil // before Online, antennaStates will ask
	}
	was, known := c.s.antennaUp[id]
	if !c.s.cfg.WantsAntenna(int(id)) {
		if !connected && (!known || was) {
			c.s.log.Info("llrp antenna disconnected (not one the config uses)", "antenna", id)
		}
		c.s.antennaUp[id] = connected
		return nil
	}
	v := 0.0
	if connected {
		v = 1
	}
	c.s.m.AntennaConnected(c.s.id, strconv.Itoa(int(id))).Set(v)
	if connected && (!known || was) {
		c.s.antennaUp[id] = true
		return nil // nothing changed for the edge
	}
	c.s.antennaUp[id] = connected
	st := reader.StatusOnline
	if !connected {
		st = reader.StatusOffline
		if !known || was {
			c.s.log.Warn("llrp antenna disconnected; its zones count it like an offline reader", "antenna", id)
		}
	} else if known && !was {
		c.s.log.Info("llrp antenna connected again", "antenna", id)
	}
	r := reader.StatusRead(c.s.now(), c.s.id, st)
	r.Antenna = int(id)
	return c.link.Deliver(c.ctx, []reader.Read{r})
}

// configure sets the keepalive, after a factory reset so that settings a
// previous client left (ROSpecs, AccessSpecs, report holds) cannot
// interfere. A reader that refuses the reset still gets the keepalive.
func (c *conn) configure() error {
	ka := &KeepaliveSpec{Trigger: 1, IntervalMS: uint32(c.s.keepalive / time.Millisecond)}
	_, err := c.request(&SetReaderConfig{ResetToFactoryDefault: true, Events: antennaEvents, Keepalive: ka}, MsgSetReaderConfigResponse)
	if !errors.Is(err, ErrStatus) {
		return err
	}
	c.s.log.Warn("llrp reader refused the factory reset; configuring without it", "err", err)
	_, err = c.request(&SetReaderConfig{Events: antennaEvents, Keepalive: ka}, MsgSetReaderConfigResponse)
	return err
}

// loop handles messages until the connection fails. Silence for three
// keepalive intervals means a dead reader or a dead network path. The read
// deadline is moved only when a quarter of a keepalive passed since it was
// last set (not for every report): silence is then detected after 3 to
// 3.25 keepalives.
func (c *conn) loop() error {
	ka := c.s.keepalive
	var set time.Time
	for {
		if len(c.reads) >= maxPendingReads || (len(c.reads) > 0 && !c.wholeMessageBuffered()) {
			if err := c.flush(); err != nil {
				return err
			}
		}
		if now := c.s.now(); now.Sub(set) >= ka/4 {
			if err := c.setReadDeadline(now.Add(3*ka + ka/4)); err != nil {
				return err
			}
			set = now
		}
		h, body, err := c.fr.ReadMessage()
		if err != nil {
			if ferr := c.flush(); ferr != nil {
				return ferr
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && c.ctx.Err() == nil {
				return fmt.Errorf("%w: %q at %s, keepalive %v", ErrKeepaliveTimeout, c.s.id, c.s.addr, c.s.keepalive)
			}
			return c.readErr(err)
		}
		if err := c.handle(h, body); err != nil {
			if ferr := c.flush(); ferr != nil {
				return ferr
			}
			return err
		}
	}
}

// closeConnection ends the session politely: stop the inventory (when we
// started one) and CLOSE_CONNECTION, waiting up to a second for the reader's response.
// Errors are ignored: the socket is closed right after anyway.
func (c *conn) closeConnection(stopInventory bool) {
	c.stop()
	c.ctx = context.Background()
	deadline := c.s.now().Add(time.Second)
	_ = c.nc.SetDeadline(deadline)
	if stopInventory {
		if _, err := c.send(&ROSpecCommand{Kind: MsgStopROSpec, ROSpecID: rospecID}); err != nil {
			return
		}
	}
	id, err := c.send(&Empty{Kind: MsgCloseConnection})
	if err != nil {
		return
	}
	for {
		h, _, err := c.fr.ReadMessage()
		if err != nil || (h.Type == MsgCloseConnectionResponse && h.ID == id) {
			return
		}
	}
}

// rateLog logs decode errors at most every 10 s per connection, with the
// number suppressed in between, so a corrupt stream cannot flood the log.
type rateLog struct {
	last       time.Time
	suppressed int
}

func (r *rateLog) log(s *Source, msg string, err error) {
	now := s.now()
	if !r.last.IsZero() && now.Sub(r.last) < 10*time.Second {
		r.suppressed++
		return
	}
	s.log.Warn(msg, "err", err, "suppressed_since_last", r.suppressed)
	r.last, r.suppressed = now, 0
}
