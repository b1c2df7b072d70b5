package serial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"

	"github.com/rfidgw/rfidgw/internal/backoff"
	"github.com/rfidgw/rfidgw/reader"
)

// Protocols a serial reader may speak (config key `protocol`).
const (
	ProtocolThingMagic = "thingmagic"
	ProtocolR2000      = "r2000"
	ProtocolASCII      = "ascii"
)

// DefaultBaud is used when the config gives no baud rate.
const DefaultBaud = 115200

// timing holds every delay of a Source; tests shorten them.
type timing struct {
	backoffMin, backoffMax time.Duration
	poll                   time.Duration // port read timeout: how often the loop looks at ctx and timers
	idleAbandon            time.Duration // margin before a partial frame that does not complete is dropped
	answer                 time.Duration // one command's answer
	attempts               int           // tries per handshake command
	silence                time.Duration // thingmagic: no byte at all while streaming = lost
	round                  time.Duration // r2000: one inventory round
	roundMisses            int           // r2000: unanswered rounds in a row = lost
	stopWait               time.Duration // thingmagic: wait for the stop answer on shutdown
	statEvery              time.Duration // how often the device path is re-checked
	checkWait              time.Duration // ascii Check: wait for a first line
}

func defaultTiming() timing {
	return timing{
		backoffMin:  250 * time.Millisecond,
		backoffMax:  10 * time.Second,
		poll:        100 * time.Millisecond,
		idleAbandon: 500 * time.Millisecond,
		answer:      1 * time.Second,
		attempts:    3,
		silence:     5 * time.Second, // heartbeats come about every second
		round:       3 * time.Second,
		roundMisses: 3,
		stopWait:    1500 * time.Millisecond,
		statEvery:   1 * time.Second,
		checkWait:   3 * time.Second,
	}
}

// Source is one serial reader. It implements reader.Source and
// reader.Checker.
type Source struct {
	m       reader.Metrics
	cfg     reader.Config
	set     *Settings
	log     *slog.Logger
	baud    int
	region  byte // thingmagic; 0 = leave the module's region alone
	pattern string
	t       timing

	asciiFrozen bool // the last ascii session ended in freeze_after silence (session goroutine only)

	errMu      sync.Mutex
	frameErrs  int       // frame errors since lastErrLog
	lastErrLog time.Time // last warning about frame errors
}

var (
	_ reader.Source  = (*Source)(nil)
	_ reader.Checker = (*Source)(nil)
)

// New validates cfg (type serial) and returns the Source. Errors wrap
// ErrConfig and name the reader and the key. env gives the logger and the
// metrics (both may be zero).
func New(cfg reader.Config, env reader.Env) (*Source, error) {
	log := env.Logger()
	if cfg.ID == "" {
		return nil, fmt.Errorf("%w: id: missing", ErrConfig)
	}
	if cfg.Type != "" && cfg.Type != reader.TypeSerial {
		return nil, bad(cfg.ID, "type", "%q is not %q", cfg.Type, reader.TypeSerial)
	}
	set, err := settingsOf(cfg)
	if err != nil {
		return nil, bad(cfg.ID, "type", "%v", err)
	}
	if errs := set.problems(&cfg); len(errs) > 0 {
		return nil, errs[0]
	}
	s := &Source{m: env.Meter(), cfg: cfg, set: set, log: log.With("reader", cfg.ID, "device", set.Device), baud: set.Baud, t: defaultTiming()}
	if s.baud == 0 {
		s.baud = DefaultBaud
	}
	if set.Region != "" {
		s.region, _ = ThingMagicRegion(set.Region) // checked
	}
	s.pattern = set.Pattern
	return s, nil
}

// Run connects, reads until ctx ends and reconnects under
// reader.Supervise whenever the device is lost: backoff 250 ms doubling to
// 10 s (±20 %), started over after a connection that came online. Every
// change of connection state is delivered as a status Read and mirrored in
// rfidgw_reader_connected. It returns nil when ctx ends, and an error when
// the sink refuses reads.
func (s *Source) Run(ctx context.Context, sink reader.Sink) error {
	sup := &reader.Supervisor{
		ID: s.cfg.ID, Kind: "serial", Sink: sink, Log: s.log,
		Backoff: backoff.Backoff{Min: s.t.backoffMin, Max: s.t.backoffMax, Jitter: backoff.DefaultJitter},
		Metrics: s.m,
	}
	return sup.Supervise(ctx, s.session)
}

// session opens the device, identifies the module, reads until the device
// is lost or ctx ends, and stops reading cleanly on shutdown.
func (s *Source) session(ctx context.Context, link *reader.Link) error {
	c, err := s.open()
	if err != nil {
		return err
	}
	defer c.close()
	sess := s.newSession(c)
	desc, err := sess.handshake(ctx)
	if err != nil {
		return err
	}
	if err := sess.start(ctx); err != nil {
		return err
	}
	s.log.Info("serial reader online", "path", c.path, "module", desc)
	if err := link.Online(); err != nil {
		return err
	}
	out := &batcher{s: s, sink: link, ctx: ctx}
	err = sess.stream(ctx, out)
	if ctx.Err() != nil {
		sess.stop()
		return nil
	}
	return err
}

// Check opens the port once and returns what answered: the module's
// firmware (thingmagic, r2000) or the first line it printed (ascii).
func (s *Source) Check(ctx context.Context) (string, error) {
	c, err := s.open()
	if err != nil {
		return "", err
	}
	defer c.close()
	where := c.path
	if c.path != s.set.Device {
		where = s.set.Device + " -> " + c.path
	}
	if s.set.Protocol == ProtocolASCII {
		desc, err := s.checkASCII(ctx, c)
		if err != nil {
			return "", fmt.Errorf("serial reader %q on %s: %w", s.cfg.ID, where, err)
		}
		return desc + " on " + where, nil
	}
	desc, err := s.newSession(c).handshake(ctx)
	if errors.Is(err, ErrNoAnswer) {
		c.close()
		if b, ok := s.probeBaud(ctx); ok {
			err = fmt.Errorf("%w at %d baud, but the module answers at %d baud: set `baud: %d`", ErrNoAnswer, s.baud, b, b)
		}
	}
	if err != nil {
		return "", fmt.Errorf("serial reader %q on %s: %w", s.cfg.ID, where, err)
	}
	return fmt.Sprintf("%s on %s at %d baud", desc, where, s.baud), nil
}

// probeBauds are tried by Check when the module does not answer at the
// configured rate (the rates ThingMagic and R2000 modules support).
var probeBauds = []int{115200, 921600, 460800, 230400, 57600, 38400, 19200, 9600}

// probeBaud looks for the rate a silent module answers at, so `rfidgw
// check` can name the fix. It tries each rate once, briefly.
func (s *Source) probeBaud(ctx context.Context) (int, bool) {
	for _, b := range probeBauds {
		if b == s.baud || ctx.Err() != nil {
			continue
		}
		p := &Source{m: s.m, cfg: s.cfg, set: s.set, log: s.log, baud: b, region: s.region, pattern: s.pattern, t: s.t}
		p.t.attempts = 1
		p.t.answer = min(p.t.answer, 300*time.Millisecond)
		c, err := p.open()
		if err != nil {
			return 0, false
		}
		_, err = p.newSession(c).handshake(ctx)
		c.close()
		if err == nil {
			return b, true
		}
	}
	return 0, false
}

func (s *Source) checkASCII(ctx context.Context, c *conn) (string, error) {
	deadline := time.Now().Add(s.t.checkWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var line []byte
	for time.Now().Before(deadline) && ctx.Err() == nil {
		data, err := c.read()
		if err != nil {
			return "", err
		}
		line = append(line, data...)
		for {
			i := strings.IndexAny(string(line), "\r\n")
			if i < 0 {
				break
			}
			first := strings.TrimSpace(string(line[:i]))
			line = line[i+1:]
			if first == "" {
				continue
			}
			dec, err := NewASCIIDecoder(s.pattern)
			if err != nil {
				return "", err
			}
			tag, err := dec.ParseLine([]byte(first))
			if err != nil {
				return "", fmt.Errorf("first line does not parse (check `pattern`): %w", err)
			}
			return fmt.Sprintf("ascii lines (first line: %q: EPC %s antenna %d)", truncate([]byte(first)), tag.EPC, tag.Antenna), nil
		}
	}
	return fmt.Sprintf("ascii lines (port open at %d baud, no line within %s)", s.baud, s.t.checkWait), nil
}

// conn is one open port.
type conn struct {
	s    *Source
	port serial.Port
	lock *os.File    // holds the advisory lock on the device
	path string      // the device path as resolved at open
	fi   os.FileInfo // identity of the device node at open
	buf  []byte
	// quietSince is when the current run of empty reads began (zero after
	// a read that returned bytes). Silence is measured in time spent
	// actually waiting on the port, so time spent in a slow Deliver never
	// counts as the module being quiet.
	quietSince time.Time
	lastStat   time.Time
	closed     bool
}

// open resolves the configured path (a /dev/serial/by-id symlink points to
// a new ttyUSBn after a replug, so it is resolved on every attempt) and
// opens it 8N1 at the configured baud rate.
func (s *Source) open() (*conn, error) {
	path, err := filepath.EvalSymlinks(s.set.Device)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.set.Device, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	lock, err := lockDevice(path)
	if err != nil {
		return nil, err
	}
	port, err := serial.Open(path, &serial.Mode{BaudRate: s.baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		lock.Close()
		var pe *serial.PortError
		if errors.As(err, &pe) && pe.Code() == serial.PermissionDenied {
			return nil, fmt.Errorf("open %s: %w (add the gateway's user to the dialout group)", path, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := port.SetReadTimeout(s.t.poll); err != nil {
		port.Close()
		lock.Close()
		return nil, fmt.Errorf("open %s: set read timeout: %w", path, err)
	}
	// Bytes left in the driver from before we opened belong to nobody.
	_ = port.ResetInputBuffer()
	now := time.Now()
	return &conn{s: s, port: port, lock: lock, path: path, fi: fi, buf: make([]byte, 4096), lastStat: now}, nil
}

func (c *conn) close() {
	if c.closed {
		return
	}
	c.closed = true
	c.port.Close()
	c.lock.Close()
}

// lockDevice takes an advisory lock on the device through a descriptor of
// its own. TIOCEXCL, which the serial library sets, does not stop root, so
// without it a `sudo rfidgw check` would talk to a module the daemon is
// reading from, and the two would steal each other's bytes.
func lockDevice(path string) (*os.File, error) {
	// O_NONBLOCK: do not wait for carrier on a modem line.
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.EBUSY):
			return nil, fmt.Errorf("open %s: %w (the rfidgw daemon or another program has it open)", path, ErrBusy)
		case errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("open %s: %w (add the gateway's user to the dialout group)", path, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	sc, err := f.SyscallConn()
	if err == nil {
		var ferr error
		err = sc.Control(func(fd uintptr) { ferr = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB) })
		if err == nil {
			err = ferr
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("open %s: %w (the rfidgw daemon or another rfidgw has it open)", path, ErrBusy)
		}
		return nil, fmt.Errorf("open %s: lock: %w", path, err)
	}
	return f, nil
}

// quiet is how long the port has been waited on without a byte arriving.
func (c *conn) quiet() time.Duration {
	if c.quietSince.IsZero() {
		return 0
	}
	return time.Since(c.quietSince)
}

func (c *conn) write(p []byte) error {
	if _, err := c.port.Write(p); err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	return nil
}

// read waits up to the poll interval for bytes; no bytes and no error means
// the line was quiet. A read error, a hangup or the device node vanishing
// is an error: the device is lost.
func (c *conn) read() ([]byte, error) {
	began := time.Now()
	n, err := c.port.Read(c.buf)
	now := time.Now()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", c.path, err)
	}
	if n > 0 {
		c.quietSince = time.Time{}
	} else if c.quietSince.IsZero() {
		c.quietSince = began
	}
	if now.Sub(c.lastStat) >= c.s.t.statEvery {
		c.lastStat = now
		fi, err := os.Stat(c.s.set.Device)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDeviceGone, err)
		}
		if !os.SameFile(fi, c.fi) {
			return nil, fmt.Errorf("%w: %s now points to another device", ErrDeviceGone, c.s.set.Device)
		}
	}
	return c.buf[:n], nil
}

// decoder is what the three protocol decoders have in common.
type decoder[F any] interface {
	Feed([]byte)
	Next() (F, error)
	Abandon() error
	Buffered() int
}

// errTimeout is internal: a wait's deadline passed.
var errTimeout = errors.New("timeout")

// wait bounds nextFrame: deadline (zero = none) and silence (zero = none):
// no byte at all for that long means the device is lost.
type wait struct {
	deadline time.Time
	silence  time.Duration
}

// nextFrame returns the next decoded frame, reading the port as needed.
// Skipped bytes are counted as frame errors. Before it blocks on the port
// it calls out.flush (when out is not nil), so reads are delivered as soon
// as the bytes at hand are decoded. Once the deadline has passed it reads
// the port once more before giving up, so an answer that arrived while we
// were busy elsewhere (a slow Deliver) is still found.
//
// A module sends a frame in one go, so a partial frame that stays
// incomplete while we have waited on the port for longer than the frame
// could take is not a frame: a stray head byte, often with a large length,
// that would otherwise hold back the real frames behind it until enough
// bytes arrived. It is abandoned (and counted).
func nextFrame[F any](ctx context.Context, c *conn, dec decoder[F], w wait, out *batcher) (F, error) {
	var zero F
	pastDeadline := false
	var waited time.Duration // port time spent while the buffered head stayed incomplete
	for {
		f, err := dec.Next()
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, ErrIncomplete) {
			c.s.frameError(err)
			waited = 0
			continue
		}
		if dec.Buffered() == 0 {
			waited = 0
		} else if waited >= c.s.abandonAfter() {
			if err := dec.Abandon(); err != nil {
				c.s.frameError(err)
			}
			waited = 0
			continue
		}
		if out != nil {
			if err := out.flush(); err != nil {
				return zero, err
			}
		}
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		if !w.deadline.IsZero() && !time.Now().Before(w.deadline) {
			if pastDeadline {
				return zero, errTimeout
			}
			pastDeadline = true
		}
		if q := c.quiet(); w.silence > 0 && q > w.silence {
			return zero, fmt.Errorf("%w: nothing received for %s", ErrNoAnswer, q.Round(time.Millisecond))
		}
		began := time.Now()
		data, err := c.read()
		if err != nil {
			return zero, err
		}
		if dec.Buffered() > 0 {
			waited += time.Since(began)
		}
		dec.Feed(data)
	}
}

// abandonAfter is how long a partial frame may wait: the time the longest
// frame (262 bytes) takes on the line, plus a margin for USB latency.
func (s *Source) abandonAfter() time.Duration {
	return s.t.idleAbandon + time.Duration(262*10)*time.Second/time.Duration(s.baud)
}

// frameError counts a decoding problem. The log gets a warning at most
// once a minute with how many there were, so a noisy cable shows up
// without flooding the journal.
func (s *Source) frameError(err error) {
	s.m.FrameErrors(s.cfg.ID).Inc()
	s.errMu.Lock()
	defer s.errMu.Unlock()
	s.frameErrs++
	if now := time.Now(); now.Sub(s.lastErrLog) >= time.Minute {
		s.log.Warn("skipped undecodable bytes from the reader", "count", s.frameErrs, "last", err)
		s.frameErrs = 0
		s.lastErrLog = now
		return
	}
	s.log.Debug("skipped undecodable bytes", "err", err)
}

// batcher collects the reads decoded from what one port read returned and
// hands them to the sink in one Deliver.
type batcher struct {
	s     *Source
	sink  *reader.Link
	ctx   context.Context
	reads []reader.Read
}

func (b *batcher) add(t Tag, at time.Time) {
	if !b.s.cfg.WantsAntenna(t.Antenna) {
		return
	}
	b.reads = append(b.reads, reader.Read{
		Time: at.UTC().Truncate(time.Microsecond), Reader: b.s.cfg.ID,
		Antenna: t.Antenna, EPC: t.EPC, RSSI: t.RSSI,
	})
}

func (b *batcher) flush() error {
	if len(b.reads) == 0 {
		return nil
	}
	n := len(b.reads)
	err := b.sink.Deliver(b.ctx, b.reads)
	b.reads = b.reads[:0]
	if err != nil {
		return err // from reader.Link: the sink refused, Supervise stops
	}
	b.s.m.Reads(b.s.cfg.ID).Add(float64(n))
	return nil
}

// session is one protocol's conversation on an open port.
type session interface {
	// handshake identifies the module (`rfidgw check` stops here).
	handshake(ctx context.Context) (string, error)
	// start configures the module and starts reading.
	start(ctx context.Context) error
	// stream decodes reads into out until ctx ends or the device is lost.
	stream(ctx context.Context, out *batcher) error
	// stop ends reading cleanly on shutdown (best effort, bounded time).
	stop()
}

func (s *Source) newSession(c *conn) session {
	switch s.set.Protocol {
	case ProtocolThingMagic:
		return &tmSession{s: s, c: c, dec: NewThingMagicDecoder()}
	case ProtocolR2000:
		return &r2000Session{s: s, c: c, dec: NewR2000Decoder()}
	default:
		dec, _ := NewASCIIDecoder(s.pattern) // validated in New
		return &asciiSession{s: s, c: c, dec: dec}
	}
}
