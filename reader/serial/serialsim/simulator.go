package serialsim

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/serial"
)

// Simulator is a serial reader module on a pseudo-terminal, for `rfidgw sim`
// and for tests. The gateway opens Path() (or a Link) like a real tty; the
// Simulator answers the commands a Source sends as a module of its protocol
// would, and reports the reads fed to it as frames or lines. It implements
// reader.Emulator.
type Simulator struct {
	protocol string
	log      *slog.Logger

	mu        sync.Mutex
	heartbeat time.Duration // thingmagic keep-alive interval while reading
	roundTime time.Duration // r2000: how long an inventory round lasts
	port      *simPort      // nil while unplugged
	link      string
	closed    bool
	reading   bool      // thingmagic: continuous read on
	lastInv   time.Time // r2000: last inventory command
	roundOpen bool      // r2000: an inventory round is running
	held      [][]byte  // r2000: tag records waiting for the next round
	received  []string  // commands seen, for tests ("0x03", "0x2F:start" …)
	boot      bool      // thingmagic: in the bootloader until BOOT_FIRMWARE
	mute      bool      // ignore every command, like a hung module
	frozen    bool      // Freeze: no output at all (reads, heartbeats, answers)
	baud      int       // answer only when the line is set to this baud rate; 0 = any
}

// maxQueued bounds the tag frames waiting for the gateway; beyond it the
// oldest are dropped, like a module's buffer.
const maxQueued = 1024

var _ reader.Emulator = (*Simulator)(nil)

// New creates a pseudo-terminal pair and starts answering on it.
// protocol is thingmagic, r2000 or ascii.
func New(protocol string, log *slog.Logger) (*Simulator, error) {
	switch protocol {
	case serial.ProtocolThingMagic, serial.ProtocolR2000, serial.ProtocolASCII:
	default:
		return nil, fmt.Errorf("%w: simulator protocol %q is not thingmagic, r2000 or ascii", serial.ErrConfig, protocol)
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Simulator{protocol: protocol, log: log.With("sim", "serial-"+protocol),
		heartbeat: time.Second, roundTime: 100 * time.Millisecond}
	p, err := s.newPort()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.port = p
	s.mu.Unlock()
	return s, nil
}

// SetTiming changes the ThingMagic keep-alive interval (default 1 s) and
// the length of an R2000 inventory round (default 100 ms); zero keeps a value.
func (s *Simulator) SetTiming(heartbeat, round time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if heartbeat > 0 {
		s.heartbeat = heartbeat
	}
	if round > 0 {
		s.roundTime = round
	}
}

// Path is the tty the gateway opens (e.g. /dev/pts/3), or "" while unplugged.
func (s *Simulator) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.port == nil {
		return ""
	}
	return s.port.name
}

// Link creates a symlink at path pointing to the tty, like a udev
// /dev/serial/by-id entry; Replug re-points it and Unplug removes it.
func (s *Simulator) Link(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return serial.ErrClosed
	}
	s.link = path
	if s.port == nil {
		return nil
	}
	return pointLink(path, s.port.name)
}

// PointLink makes path a symlink to target atomically; exported for tests
// that re-point a by-id link to another simulator.
func PointLink(path, target string) error { return pointLink(path, target) }

// SetBootloader puts a thingmagic module in its bootloader, where it stays
// until BOOT_FIRMWARE.
func (s *Simulator) SetBootloader(on bool) {
	s.mu.Lock()
	s.boot = on
	s.mu.Unlock()
}

// StopReading makes a thingmagic module stop streaming (and beating) on
// its own.
func (s *Simulator) StopReading() {
	s.mu.Lock()
	s.reading = false
	s.mu.Unlock()
}

// SetMute makes the module ignore every command, like a hung one.
func (s *Simulator) SetMute(m bool) {
	s.mu.Lock()
	s.mute = m
	s.mu.Unlock()
}

// Freeze hangs the module with its port open, whatever its protocol: it
// sends nothing (no reads, no heartbeats, no answers) and ignores commands
// until Freeze(false) thaws it; it then behaves as before the hang (a
// thingmagic module that was reading streams again).
func (s *Simulator) Freeze(on bool) {
	s.mu.Lock()
	s.frozen = on
	s.mu.Unlock()
}

// SetBaud makes the module answer only at baud (0 = any rate).
func (s *Simulator) SetBaud(baud int) {
	s.mu.Lock()
	s.baud = baud
	s.mu.Unlock()
}

// pointLink makes path a symlink to target atomically (a gateway resolving
// it never sees it missing while it is being re-pointed).
func pointLink(path, target string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("link %s: %w", path, err)
	}
	return nil
}

// Feed reports a tag read: a ThingMagic tag record while continuous reading
// is on, an R2000 tag record in the current (or next) inventory round while
// the gateway is inventorying, an ASCII line always. Reads outside reading
// are dropped, as by a module that is not reading. It never blocks for long.
func (s *Simulator) Feed(r reader.Read) {
	if r.IsStatus() {
		return
	}
	epc, err := hex.DecodeString(r.EPC)
	if err != nil || len(epc) == 0 || len(epc) > 62 {
		s.log.Warn("simulator: EPC not representable, dropped", "epc", r.EPC)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.port
	if p == nil || s.frozen {
		return
	}
	switch s.protocol {
	case serial.ProtocolThingMagic:
		if !s.reading {
			return
		}
		ant := min(max(r.Antenna, 1), 16)
		rssi := int8(min(max(r.RSSI, -128), 127))
		p.queue(serial.EncodeTMTag(epc, ant, rssi, 915250, uint32(time.Since(p.lastBeat).Milliseconds())), true)
	case serial.ProtocolR2000:
		if time.Since(s.lastInv) > 2*time.Second {
			return
		}
		ant := min(max(r.Antenna, 1), 8)
		f := serial.EncodeR2000Tag(0x01, epc, ant, r.RSSI)
		if s.roundOpen {
			p.queue(f, true)
			return
		}
		if len(s.held) >= maxQueued {
			s.held = s.held[1:]
		}
		s.held = append(s.held, f)
	case serial.ProtocolASCII:
		line := r.EPC + "," + strconv.Itoa(max(r.Antenna, 1)) + "," + strconv.FormatFloat(r.RSSI, 'f', -1, 64) + "\r\n"
		p.queue([]byte(line), true)
	}
}

// WriteRaw writes bytes to the line as they are (garbage, half a frame),
// in order with the frames of Feed and the answers to commands.
func (s *Simulator) WriteRaw(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.port == nil {
		return fmt.Errorf("simulator unplugged: %w", os.ErrClosed)
	}
	s.port.queue(append([]byte(nil), b...), false)
	return nil
}

// writeSplit writes b in two writes with a pause between, holding the line
// so no answer or heartbeat lands inside: a frame split in transit (USB
// packets, a UART FIFO), not two frames interleaved, which no module does.
// WriteSplit writes b in two pieces, the second after pause, like a USB
// adapter delivering one frame in two transfers.
func (s *Simulator) WriteSplit(b []byte, at int, pause time.Duration) error {
	s.mu.Lock()
	p := s.port
	s.mu.Unlock()
	if p == nil {
		return os.ErrClosed
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if _, err := p.master.Write(b[:at]); err != nil {
		return err
	}
	time.Sleep(pause)
	_, err := p.master.Write(b[at:])
	return err
}

// Unplug closes the pseudo-terminal as a pulled USB cable would: the
// gateway's next read fails, and the Link (if any) disappears.
func (s *Simulator) Unplug() {
	s.mu.Lock()
	p := s.port
	s.port = nil
	s.reading, s.roundOpen, s.held = false, false, nil
	if s.link != "" {
		_ = os.Remove(s.link)
	}
	s.mu.Unlock()
	if p != nil {
		p.close()
	}
}

// Replug creates a new pseudo-terminal (usually with another /dev/pts
// number, like a module coming back as another ttyUSB) and re-points the Link.
func (s *Simulator) Replug() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return serial.ErrClosed
	}
	old := s.port
	s.port = nil
	s.mu.Unlock()
	if old != nil {
		old.close()
	}
	p, err := s.newPort()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.port = p
	s.reading, s.roundOpen, s.held = false, false, nil
	if s.link != "" {
		return pointLink(s.link, p.name)
	}
	return nil
}

// Close unplugs the module for good and removes the Link.
func (s *Simulator) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.Unplug()
	return nil
}

// commands returns the commands received so far (tests).
// Commands lists the commands the module received, in order (e.g. "0x03",
// "0x2F:start").
func (s *Simulator) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.received...)
}

// WaitReading blocks until the gateway has the module reading (see
// Reading) or ctx ends. A scenario player calls it before its first Feed,
// since reads fed earlier are dropped as by a module that is not reading.
func (s *Simulator) WaitReading(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !s.Reading() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Reading reports whether the gateway has the module reading: continuous
// reading started (thingmagic), an inventory issued within the last second
// (r2000), or the port is plugged (ascii). Feed drops reads otherwise.
func (s *Simulator) Reading() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.protocol {
	case serial.ProtocolThingMagic:
		return s.reading
	case serial.ProtocolR2000:
		return s.port != nil && time.Since(s.lastInv) < time.Second
	}
	return s.port != nil
}

// ---- one pseudo-terminal ---------------------------------------------------

type simPort struct {
	name     string
	master   *os.File
	slave    *os.File // held open so the master never sees "no slave" while the gateway reconnects
	wmu      sync.Mutex
	qmu      sync.Mutex
	q        []simFrame
	signal   chan struct{}
	done     chan struct{}
	wg       sync.WaitGroup
	lastBeat time.Time
}

type simFrame struct {
	b         []byte
	droppable bool // tag frames may be dropped when the gateway lags; answers never
}

func (s *Simulator) newPort() (*simPort, error) {
	m, t, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("simulator: open pseudo-terminal: %w", err)
	}
	// pty.Open's master is in blocking mode, so Close would not interrupt a
	// pending Read and the gateway would never see the hangup. A
	// non-blocking duplicate goes through the runtime poller instead.
	fd, err := unix.Dup(int(m.Fd()))
	m.Close()
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("simulator: dup master: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		t.Close()
		return nil, fmt.Errorf("simulator: master non-blocking: %w", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	// Raw mode from the start: a cooked tty would echo our frames back to
	// us and mangle CR/LF before the gateway sets its own mode.
	if tio, err := unix.IoctlGetTermios(int(t.Fd()), unix.TCGETS); err == nil {
		tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		tio.Oflag &^= unix.OPOST
		tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		tio.Cflag &^= unix.CSIZE | unix.PARENB
		tio.Cflag |= unix.CS8
		_ = unix.IoctlSetTermios(int(t.Fd()), unix.TCSETS, tio)
	}
	p := &simPort{name: t.Name(), master: master, slave: t, signal: make(chan struct{}, 1),
		done: make(chan struct{}), lastBeat: time.Now()}
	p.wg.Add(2)
	go p.writer()
	go s.serve(p)
	if s.protocol == serial.ProtocolThingMagic {
		p.wg.Add(1)
		go s.heartbeats(p)
	}
	return p, nil
}

func (p *simPort) write(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.master.Write(b)
	return err
}

// queue hands a frame to the writer goroutine, keeping order.
func (p *simPort) queue(b []byte, droppable bool) {
	p.qmu.Lock()
	if droppable && len(p.q) >= maxQueued {
		for i, f := range p.q {
			if f.droppable {
				p.q = append(p.q[:i], p.q[i+1:]...)
				break
			}
		}
	}
	p.q = append(p.q, simFrame{b: b, droppable: droppable})
	p.qmu.Unlock()
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

func (p *simPort) writer() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			return
		case <-p.signal:
		}
		for {
			p.qmu.Lock()
			if len(p.q) == 0 {
				p.qmu.Unlock()
				break
			}
			f := p.q[0]
			p.q = p.q[1:]
			p.qmu.Unlock()
			if err := p.write(f.b); err != nil {
				return
			}
		}
	}
}

// simBauds maps baud rates to the termios speed the gateway's serial
// library sets on the (shared) pseudo-terminal.
var simBauds = map[int]uint32{
	9600: unix.B9600, 19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600,
	115200: unix.B115200, 230400: unix.B230400, 460800: unix.B460800, 921600: unix.B921600,
}

// baudIs reports whether the line is set to baud (0 = any): a module at
// another rate sees only noise and does not answer.
func (p *simPort) baudIs(baud int) bool {
	if baud == 0 {
		return true
	}
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	return err == nil && tio.Cflag&unix.CBAUD == simBauds[baud]
}

func (p *simPort) close() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.master.Close()
	p.slave.Close()
	p.wg.Wait()
}

// serve reads the gateway's commands and answers them.
func (s *Simulator) serve(p *simPort) {
	defer p.wg.Done()
	buf := make([]byte, 1024)
	var tm *serial.ThingMagicDecoder
	var r2 *serial.R2000Decoder
	switch s.protocol {
	case serial.ProtocolThingMagic:
		tm = serial.NewThingMagicCommandDecoder()
	case serial.ProtocolR2000:
		r2 = serial.NewR2000Decoder()
	}
	for {
		n, err := p.master.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				s.log.Debug("simulator: read", "err", err)
			}
			return
		}
		switch {
		case tm != nil:
			tm.Feed(buf[:n])
			for {
				f, err := tm.Next()
				if errors.Is(err, serial.ErrIncomplete) {
					break
				}
				if err == nil {
					s.answerThingMagic(p, f)
				}
			}
		case r2 != nil:
			r2.Feed(buf[:n])
			for {
				f, err := r2.Next()
				if errors.Is(err, serial.ErrIncomplete) {
					break
				}
				if err == nil {
					s.answerR2000(p, f)
				}
			}
		}
	}
}

func (s *Simulator) record(c string) {
	if len(s.received) < 10000 {
		s.received = append(s.received, c)
	}
}

// simVersion is an M6e Nano's GET_VERSION answer: bootloader, hardware,
// firmware date, firmware version, supported protocols (GEN2).
var simVersion = []byte{
	0x12, 0x08, 0x00, 0x00,
	0x30, 0x00, 0x00, 0x20,
	0x20, 0x16, 0x05, 0x03,
	0x01, 0x09, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x10,
}

func (s *Simulator) answerThingMagic(p *simPort, f serial.TMFrame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mute || s.frozen || !p.baudIs(s.baud) {
		return
	}
	switch {
	case f.Opcode == serial.TMOpVersion:
		s.record("0x03")
		p.queue(serial.EncodeTMResponse(serial.TMOpVersion, serial.TMStatusOK, simVersion), false)
		return
	case f.Opcode == serial.TMOpCurrentProg:
		s.record("0x0C")
		prog := byte(0x02) // application
		if s.boot {
			prog = 0x01
		}
		p.queue(serial.EncodeTMResponse(serial.TMOpCurrentProg, serial.TMStatusOK, []byte{prog}), false)
		return
	case f.Opcode == serial.TMOpBootFirmware:
		s.record("0x04")
		s.boot = false
		p.queue(serial.EncodeTMResponse(serial.TMOpBootFirmware, serial.TMStatusOK, simVersion), false)
		return
	case s.boot:
		s.record(fmt.Sprintf("0x%02X:in-bootloader", f.Opcode))
		p.queue(serial.EncodeTMResponse(f.Opcode, serial.TMStatusBadOpcode, nil), false)
		return
	}
	switch f.Opcode {
	case serial.TMOpSetRegion, serial.TMOpSetProtocol, serial.TMOpSetAntenna:
		s.record(fmt.Sprintf("0x%02X:%X", f.Opcode, f.Data))
		p.queue(serial.EncodeTMResponse(f.Opcode, serial.TMStatusOK, nil), false)
	case serial.TMOpMultiProtocol:
		if len(f.Data) >= 3 && f.Data[2] == 0x01 {
			s.record("0x2F:start")
			s.reading = true
			p.lastBeat = time.Now()
			p.queue(serial.EncodeTMResponse(serial.TMOpMultiProtocol, serial.TMStatusOK, []byte{0x00, 0x00, 0x01, serial.TMOpReadMultiple}), false)
		} else {
			s.record("0x2F:stop")
			s.reading = false
			p.queue(serial.EncodeTMResponse(serial.TMOpMultiProtocol, serial.TMStatusOK, []byte{0x00, 0x00, 0x02}), false)
		}
	default:
		s.record(fmt.Sprintf("0x%02X", f.Opcode))
		p.queue(serial.EncodeTMResponse(f.Opcode, serial.TMStatusBadOpcode, nil), false)
	}
}

func (s *Simulator) heartbeats(p *simPort) {
	defer p.wg.Done()
	beat := serial.EncodeTMResponse(serial.TMOpReadMultiple, serial.TMStatusNoTags, nil)
	for {
		s.mu.Lock()
		every := s.heartbeat
		s.mu.Unlock()
		select {
		case <-p.done:
			return
		case <-time.After(every):
		}
		s.mu.Lock()
		if s.reading && s.port == p && !s.frozen {
			p.lastBeat = time.Now()
			p.queue(beat, true)
		}
		s.mu.Unlock()
	}
}

func (s *Simulator) answerR2000(p *simPort, f serial.R2000Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mute || s.frozen || !p.baudIs(s.baud) {
		return
	}
	const addr = 0x01
	switch f.Cmd {
	case serial.R2000CmdFirmwareVersion:
		s.record("0x72")
		p.queue(serial.EncodeR2000(addr, serial.R2000CmdFirmwareVersion, []byte{0x01, 0x09}), false)
	case serial.R2000CmdSetWorkAntenna:
		s.record(fmt.Sprintf("0x74:%X", f.Data))
		p.queue(serial.EncodeR2000(addr, serial.R2000CmdSetWorkAntenna, []byte{serial.R2000Success}), false)
	case serial.R2000CmdRealTimeInventory:
		if len(s.received) == 0 || s.received[len(s.received)-1] != "0x89" {
			s.record("0x89")
		}
		s.lastInv = time.Now()
		if s.roundOpen {
			return // a module busy with a round ignores the repeat
		}
		s.roundOpen = true
		for _, h := range s.held {
			p.queue(h, true)
		}
		s.held = nil
		time.AfterFunc(s.roundTime, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.port != p {
				return
			}
			s.roundOpen = false
			p.queue(serial.EncodeR2000(addr, serial.R2000CmdRealTimeInventory, []byte{0x00, 0x00, 0x78, 0x00, 0x00, 0x01, 0x59}), false)
		})
	default:
		s.record(fmt.Sprintf("0x%02X", f.Cmd))
		p.queue(serial.EncodeR2000(addr, f.Cmd, []byte{0x11}), false)
	}
}

// Pump writes the tag reads next fills in (EPC, antenna, RSSI) as
// ThingMagic tag records while continuous reading is on, at rate reads per
// second, or with rate 0 as fast as the gateway reads the line (the
// pseudo-terminal's buffer is the back-pressure: nothing is dropped).
// Several records go out in one write. It waits until the gateway started
// reading and returns the reads written when ctx ends, or an error when
// the module is unplugged or the protocol is not thingmagic.
func (s *Simulator) Pump(ctx context.Context, rate float64, next func(r *reader.Read)) (int64, error) {
	if s.protocol != serial.ProtocolThingMagic {
		return 0, fmt.Errorf("simulator: Pump supports thingmagic, not %s", s.protocol)
	}
	if err := s.WaitReading(ctx); err != nil {
		return 0, nil
	}
	const most = 256
	var (
		sent  int64
		buf   []byte
		start = time.Now()
	)
	for ctx.Err() == nil {
		n := int64(most)
		if rate > 0 {
			due := int64(time.Since(start).Seconds()*rate) - sent
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
		s.mu.Lock()
		p, reading := s.port, s.reading
		var ms uint32
		if p != nil {
			ms = uint32(time.Since(p.lastBeat).Milliseconds())
		}
		s.mu.Unlock()
		if p == nil || !reading {
			if ctx.Err() != nil {
				break
			}
			return sent, errors.New("simulator: pump: the module stopped reading or was unplugged")
		}
		buf = buf[:0]
		for i := int64(0); i < n; i++ {
			var r reader.Read
			next(&r)
			epc, err := hex.DecodeString(r.EPC)
			if err != nil || len(epc) == 0 || len(epc) > 62 {
				continue
			}
			buf = append(buf, serial.EncodeTMTag(epc, min(max(r.Antenna, 1), 16), int8(min(max(r.RSSI, -128), 127)), 915250, ms)...)
		}
		if err := p.write(buf); err != nil {
			if ctx.Err() != nil {
				break
			}
			return sent, fmt.Errorf("simulator: pump: %w", err)
		}
		sent += n
	}
	return sent, nil
}
