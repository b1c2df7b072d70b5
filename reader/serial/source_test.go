package serial_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/rfidgw/rfidgw/internal/metrics"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/serial"
	"github.com/rfidgw/rfidgw/reader/serial/serialsim"
)

// These tests run the Source against the serialsim.Simulator through a real
// pseudo-terminal opened with go.bug.st/serial.

func quietLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// chanSink hands every delivered read to a channel.
type chanSink struct{ ch chan reader.Read }

func (s chanSink) Deliver(ctx context.Context, reads []reader.Read) error {
	for _, r := range reads {
		select {
		case s.ch <- r:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

type harness struct {
	t      testing.TB
	sim    *serialsim.Simulator
	src    *serial.Source
	reads  chan reader.Read
	cancel context.CancelFunc
	done   chan error
	link   string
	id     string // the reader id
}

// start runs a Source for cfg against sim, through a by-id style symlink.
func start(t testing.TB, sim *serialsim.Simulator, cfg reader.Config) *harness {
	t.Helper()
	link := filepath.Join(t.TempDir(), "usb-ThingMagic_Nano_0001-if00-port0")
	if err := sim.Link(link); err != nil {
		t.Fatal(err)
	}
	cfg.Type = reader.TypeSerial
	cfg = cloneConfig(cfg)
	settingsIn(&cfg).Device = link
	if cfg.ID == "" {
		cfg.ID = "rack-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	}
	src, err := serial.New(cfg, reader.Env{Log: quietLog(), Metrics: testMetrics.Readers()})
	if err != nil {
		t.Fatal(err)
	}
	serial.UseFastTiming(src)
	hs := &harness{t: t, sim: sim, src: src, id: cfg.ID, reads: make(chan reader.Read, 1000), done: make(chan error, 1), link: link}
	ctx, cancel := context.WithCancel(context.Background())
	hs.cancel = cancel
	go func() { hs.done <- src.Run(ctx, chanSink{hs.reads}) }()
	t.Cleanup(func() {
		hs.stop()
		sim.Close()
	})
	return hs
}

func (hs *harness) stop() error {
	hs.cancel()
	select {
	case err := <-hs.done:
		hs.done <- err
		return err
	case <-time.After(10 * time.Second):
		hs.t.Fatal("Run did not return after cancel")
		return nil
	}
}

// next waits for the next read (status or tag).
func (hs *harness) next(what string) reader.Read {
	hs.t.Helper()
	select {
	case r := <-hs.reads:
		return r
	case <-time.After(10 * time.Second):
		hs.t.Fatalf("timed out waiting for %s", what)
		return reader.Read{}
	}
}

func (hs *harness) expectStatus(want reader.Status) {
	hs.t.Helper()
	r := hs.next(string(want) + " status")
	if r.Status != want || r.Reader != hs.id {
		hs.t.Fatalf("got %+v, want status %s", r, want)
	}
}

// expectTag waits for a tag read, skipping nothing: any other read fails.
func (hs *harness) expectTag(epc string, antenna int, rssi float64) reader.Read {
	hs.t.Helper()
	r := hs.next("tag " + epc)
	if r.IsStatus() || r.EPC != epc || r.Antenna != antenna || r.RSSI != rssi || r.Reader != hs.id {
		hs.t.Fatalf("got %+v, want tag %s antenna %d rssi %v", r, epc, antenna, rssi)
	}
	if r.Time.IsZero() || r.Time.Location() != time.UTC || time.Since(r.Time) > time.Minute {
		hs.t.Fatalf("read time %v: want a recent UTC time", r.Time)
	}
	return r
}

func (hs *harness) expectNothing(d time.Duration) {
	hs.t.Helper()
	select {
	case r := <-hs.reads:
		hs.t.Fatalf("unexpected read %+v", r)
	case <-time.After(d):
	}
}

// waitReading waits until the gateway has the module reading.
func (hs *harness) waitReading() {
	hs.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.sim.WaitReading(ctx); err != nil {
		hs.t.Fatal("the gateway never started reading")
	}
}

func (hs *harness) feed(epc string, antenna int, rssi float64) {
	hs.sim.Feed(reader.Read{Time: time.Now(), EPC: epc, Antenna: antenna, RSSI: rssi})
}

// testMetrics receives the metrics of the sources start builds.
var testMetrics = metrics.New()

func gauge(t *testing.T, id string) float64 {
	var m dto.Metric
	if err := testMetrics.ReaderConnected.WithLabelValues(id).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func counter(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newSim(t testing.TB, protocol string) *serialsim.Simulator {
	t.Helper()
	sim, err := serialsim.New(protocol, quietLog())
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	return sim
}

// flipBit spoils a binary frame's checksum.
func flipBit(f []byte) { f[len(f)-3] ^= 0x01 }

// binaryGarbage holds stray frame heads of both binary protocols.
const binaryGarbage = "\x00\x13garbage\r\n\xA0\xFF"

const (
	epc1 = "E2003098881900722140369E"
	epc2 = "300833B2DDD9014000000001"
	epc3 = "E28011606000020D8F3A1B2C"
)

// exercise runs the scenario every protocol must pass: reads, garbage
// between frames, a frame split across writes, a bad checksum counted, an
// unplug (offline) and a replug found again through the same symlink.
func exercise(t *testing.T, hs *harness, garbage string, frame func(epc string, antenna int, rssi float64) []byte, corrupt func([]byte)) {
	id := hs.id
	hs.expectStatus(reader.StatusOnline)
	if g := gauge(t, id); g != 1 {
		t.Fatalf("rfidgw_reader_connected = %v while online", g)
	}
	hs.waitReading()

	hs.feed(epc1, 1, -52)
	hs.expectTag(epc1, 1, -52)

	// garbage between frames
	errCounter := testMetrics.ReaderFrameErrors.WithLabelValues(id)
	before := counter(t, errCounter)
	hs.sim.WriteRaw([]byte(garbage))
	hs.feed(epc2, 2, -60)
	hs.expectTag(epc2, 2, -60)

	// a frame split across two writes
	f := frame(epc3, 1, -45)
	if err := hs.sim.WriteSplit(f, len(f)/2, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	hs.expectTag(epc3, 1, -45)

	// two frames in one write, then one with a bad checksum
	two := append(frame(epc1, 1, -50), frame(epc2, 1, -51)...)
	hs.sim.WriteRaw(two)
	hs.expectTag(epc1, 1, -50)
	hs.expectTag(epc2, 1, -51)
	bad := frame(epc3, 1, -44)
	corrupt(bad)
	hs.sim.WriteRaw(bad)
	hs.feed(epc1, 1, -53)
	hs.expectTag(epc1, 1, -53)
	waitFor(t, "frame errors counted", func() bool { return counter(t, errCounter) >= before+2 })

	// unplug: offline, metric 0, the link is gone
	hs.sim.Unplug()
	hs.expectStatus(reader.StatusOffline)
	if g := gauge(t, id); g != 0 {
		t.Fatalf("rfidgw_reader_connected = %v while offline", g)
	}
	if _, err := os.Lstat(hs.link); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("link still there after unplug: %v", err)
	}
	hs.expectNothing(300 * time.Millisecond) // retrying quietly, no status flapping

	// replug: found again through the same symlink, reads flow again
	if err := hs.sim.Replug(); err != nil {
		t.Fatal(err)
	}
	hs.expectStatus(reader.StatusOnline)
	hs.waitReading()
	hs.feed(epc2, 2, -58)
	hs.expectTag(epc2, 2, -58)
	if g := gauge(t, id); g != 1 {
		t.Fatalf("rfidgw_reader_connected = %v after replug", g)
	}

	if err := hs.stop(); err != nil {
		t.Fatalf("Run returned %v on shutdown, want nil", err)
	}
}

func TestThingMagicPty(t *testing.T) {
	sim := newSim(t, serial.ProtocolThingMagic)
	sim.SetTiming(100*time.Millisecond, 0)
	hs := start(t, sim, reader.Config{Antennas: []int{1, 2}, Settings: &serial.Settings{Protocol: serial.ProtocolThingMagic, Region: "NA2"}})
	exercise(t, hs, binaryGarbage, func(epc string, antenna int, rssi float64) []byte {
		return serial.EncodeTMTag(serial.Hex(t, epc), antenna, int8(rssi), 915250, 0)
	}, flipBit)
	cmds := strings.Join(sim.Commands(), " ")
	for _, want := range []string{"0x03", "0x97:0D", "0x93:0005", "0x91:0201010202", "0x2F:start"} {
		if !strings.Contains(cmds, want) {
			t.Errorf("commands %q lack %q", cmds, want)
		}
	}
	if !strings.HasSuffix(cmds, "0x2F:stop") {
		t.Errorf("commands %q: want a stop of continuous reading on shutdown", cmds)
	}
}

// A module that powered up in its bootloader is booted before it is
// configured; Check reports it without booting it.
func TestThingMagicBootloader(t *testing.T) {
	sim := newSim(t, serial.ProtocolThingMagic)
	sim.SetBootloader(true)
	src, err := serial.New(reader.Config{ID: "boot", Settings: &serial.Settings{Device: sim.Path(), Protocol: serial.ProtocolThingMagic, Region: "EU3"}}, reader.Env{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	serial.UseFastTiming(src)
	desc, err := src.Check(context.Background())
	if err != nil || !strings.Contains(desc, "in bootloader") {
		t.Fatalf("Check = %q, %v; want it to say the module is in its bootloader", desc, err)
	}
	hs := start(t, sim, reader.Config{Settings: &serial.Settings{Protocol: serial.ProtocolThingMagic, Region: "EU3"}})
	hs.expectStatus(reader.StatusOnline)
	hs.waitReading()
	cmds := strings.Join(sim.Commands(), " ")
	// Only the precautionary stop reaches the bootloader (which refuses it).
	if !strings.Contains(cmds, "0x0C 0x04 0x97:08") || strings.Count(cmds, "in-bootloader") != strings.Count(cmds, "0x2F:in-bootloader") {
		t.Fatalf("commands %q: want GET_CURRENT_PROGRAM, BOOT_FIRMWARE, then SET_REGION, and no configuration sent to the bootloader", cmds)
	}
	hs.feed(epc1, 1, -50)
	hs.expectTag(epc1, 1, -50)
}

// A module that ends the stream by itself (response type 0) is asked to
// start again, without a disconnect; status warnings do not disturb reading.
func TestThingMagicStreamEnd(t *testing.T) {
	sim := newSim(t, serial.ProtocolThingMagic)
	hs := start(t, sim, reader.Config{Settings: &serial.Settings{Protocol: serial.ProtocolThingMagic}})
	hs.expectStatus(reader.StatusOnline)
	hs.waitReading()
	sim.StopReading()                                        // as a module that stopped on its own
	sim.WriteRaw(serial.EncodeTMResponse(0x22, 0x0504, nil)) // temperature throttling warning
	sim.WriteRaw(serial.EncodeTMResponse(0x22, 0, serial.Hex(t, "10 00 1B 01 FF 00")))
	hs.waitReading()
	hs.feed(epc3, 2, -47)
	hs.expectTag(epc3, 2, -47)
	if n := strings.Count(strings.Join(sim.Commands(), " "), "0x2F:start"); n != 2 {
		t.Fatalf("%d start commands, want 2 (the second after the stream ended)", n)
	}
}

// Heartbeats keep a quiet ThingMagic connection alive; when they stop (a
// module that hung), the silence is a disconnect.
func TestThingMagicHeartbeatSilence(t *testing.T) {
	sim := newSim(t, serial.ProtocolThingMagic)
	sim.SetTiming(100*time.Millisecond, 0)
	hs := start(t, sim, reader.Config{Settings: &serial.Settings{Protocol: serial.ProtocolThingMagic}})
	hs.expectStatus(reader.StatusOnline)
	hs.expectNothing(1500 * time.Millisecond) // longer than the 1 s silence limit: heartbeats keep it up
	sim.StopReading()                         // the module stops streaming and beating
	hs.expectStatus(reader.StatusOffline)
	hs.expectStatus(reader.StatusOnline) // the reconnect restarts reading
}

func TestR2000Pty(t *testing.T) {
	sim := newSim(t, serial.ProtocolR2000)
	sim.SetTiming(0, 30*time.Millisecond)
	hs := start(t, sim, reader.Config{Antennas: []int{1, 2}, Settings: &serial.Settings{Protocol: serial.ProtocolR2000}})
	exercise(t, hs, binaryGarbage, func(epc string, antenna int, rssi float64) []byte {
		return serial.EncodeR2000Tag(0x01, serial.Hex(t, epc), antenna, rssi)
	}, flipBit)
	cmds := strings.Join(sim.Commands(), " ")
	for _, want := range []string{"0x72", "0x74:00", "0x74:01", "0x89"} {
		if !strings.Contains(cmds, want) {
			t.Errorf("commands %q lack %q", cmds, want)
		}
	}
}

func TestASCIIPty(t *testing.T) {
	sim := newSim(t, serial.ProtocolASCII)
	hs := start(t, sim, reader.Config{Settings: &serial.Settings{Protocol: serial.ProtocolASCII}})
	// On a line protocol noise spoils the line it lands in; here it ends in a line end.
	exercise(t, hs, "\x00\x13garbage\xA0\xFF\r\n", func(epc string, antenna int, rssi float64) []byte {
		return []byte(epc + "," + strconv.Itoa(antenna) + "," + strconv.FormatFloat(rssi, 'f', -1, 64) + "\r\n")
	}, func(line []byte) { line[0] = 'Z' }) // no checksum on a line: a mangled one fails the pattern
}

// An R2000 board that stops answering (hung firmware, the tty still there)
// is offline after three unanswered rounds, and online again once it
// answers the version request.
func TestR2000Unanswered(t *testing.T) {
	sim := newSim(t, serial.ProtocolR2000)
	sim.SetTiming(0, 20*time.Millisecond)
	hs := start(t, sim, reader.Config{Settings: &serial.Settings{Protocol: serial.ProtocolR2000}})
	hs.expectStatus(reader.StatusOnline)
	hs.waitReading()
	mute := func(m bool) {
		sim.SetMute(m)
	}
	mute(true)
	hs.expectStatus(reader.StatusOffline)
	hs.expectNothing(500 * time.Millisecond) // handshakes fail quietly meanwhile
	mute(false)
	hs.expectStatus(reader.StatusOnline)
	hs.waitReading()
	hs.feed(epc1, 3, -66)
	hs.expectTag(epc1, 3, -66)
}

// The antenna filter of the config drops reads from other ports.
func TestAntennaFilter(t *testing.T) {
	sim := newSim(t, serial.ProtocolASCII)
	hs := start(t, sim, reader.Config{Antennas: []int{2}, Settings: &serial.Settings{Protocol: serial.ProtocolASCII}})
	hs.expectStatus(reader.StatusOnline)
	hs.feed(epc1, 1, -50)
	hs.feed(epc2, 2, -50)
	hs.expectTag(epc2, 2, -50)
}

// A device that is not there at start: offline once, then online when it
// appears (a module plugged in after boot).
func TestDeviceAppearsLater(t *testing.T) {
	sim := newSim(t, serial.ProtocolThingMagic)
	defer sim.Close()
	link := filepath.Join(t.TempDir(), "ttyUSB-late")
	src, err := serial.New(reader.Config{ID: "late", Type: reader.TypeSerial, Settings: &serial.Settings{Device: link, Protocol: serial.ProtocolThingMagic}}, reader.Env{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	serial.UseFastTiming(src)
	reads := make(chan reader.Read, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, chanSink{reads}) }()
	defer func() { cancel(); <-done }()
	hs := &harness{t: t, sim: sim, src: src, id: "late", reads: reads}
	hs.expectStatus(reader.StatusOffline)
	hs.expectNothing(300 * time.Millisecond)
	if err := sim.Link(link); err != nil {
		t.Fatal(err)
	}
	hs.expectStatus(reader.StatusOnline)
}

// A by-id link re-pointed to another device while the old tty still works
// (no read error at all) is noticed by the path check and followed.
func TestLinkRepointed(t *testing.T) {
	a := newSim(t, serial.ProtocolASCII)
	b := newSim(t, serial.ProtocolASCII)
	defer b.Close()
	hs := start(t, a, reader.Config{Settings: &serial.Settings{Protocol: serial.ProtocolASCII}})
	hs.expectStatus(reader.StatusOnline)
	if err := serialsim.PointLink(hs.link, b.Path()); err != nil {
		t.Fatal(err)
	}
	hs.expectStatus(reader.StatusOffline)
	hs.expectStatus(reader.StatusOnline)
	b.Feed(reader.Read{EPC: epc3, Antenna: 1, RSSI: -40})
	hs.expectTag(epc3, 1, -40)
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		protocol, want string
		prepare        func(*serialsim.Simulator)
	}{
		{serial.ProtocolThingMagic, "ThingMagic M6e Nano bootloader 12.08.00.00 firmware 01.09.00.02 (2016-05-03) on ", nil},
		{serial.ProtocolR2000, "R2000 module (0xA0 protocol) firmware 1.9, address 0x01 on ", nil},
		{serial.ProtocolASCII, `ascii lines (first line: "E2003098881900722140369E,1,-50": EPC E2003098881900722140369E antenna 1) on `,
			func(s *serialsim.Simulator) {
				go func() {
					time.Sleep(50 * time.Millisecond)
					s.WriteRaw([]byte("E2003098881900722140369E,1,-50\r\n"))
				}()
			}},
		{serial.ProtocolASCII, "ascii lines (port open at 115200 baud, no line within 500ms) on ", nil},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			sim := newSim(t, tc.protocol)
			defer sim.Close()
			link := filepath.Join(t.TempDir(), "by-id-reader")
			if err := sim.Link(link); err != nil {
				t.Fatal(err)
			}
			src, err := serial.New(reader.Config{ID: "chk", Settings: &serial.Settings{Device: link, Protocol: tc.protocol}}, reader.Env{Log: quietLog()})
			if err != nil {
				t.Fatal(err)
			}
			serial.UseFastTiming(src)
			if tc.prepare != nil {
				tc.prepare(sim)
			}
			got, err := src.Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got, tc.want) || !strings.Contains(got, link+" -> "+sim.Path()) {
				t.Fatalf("Check = %q, want %q… naming %s -> %s", got, tc.want, link, sim.Path())
			}
		})
	}
}

// A second rfidgw on the same device (e.g. `sudo rfidgw check` next to the
// daemon) is refused instead of stealing the daemon's bytes.
func TestDeviceBusy(t *testing.T) {
	sim := newSim(t, serial.ProtocolThingMagic)
	hs := start(t, sim, reader.Config{Settings: &serial.Settings{Protocol: serial.ProtocolThingMagic}})
	hs.expectStatus(reader.StatusOnline)
	hs.waitReading()
	other, _ := serial.New(reader.Config{ID: "second", Settings: &serial.Settings{Device: hs.link, Protocol: serial.ProtocolThingMagic}}, reader.Env{Log: quietLog()})
	serial.UseFastTiming(other)
	if _, err := other.Check(context.Background()); !errors.Is(err, serial.ErrBusy) {
		t.Fatalf("Check next to a running Source: %v, want ErrBusy", err)
	}
	hs.feed(epc1, 1, -50)
	hs.expectTag(epc1, 1, -50) // the running Source was not disturbed
	if cmds := strings.Join(sim.Commands(), " "); strings.Count(cmds, "0x03") != 1 {
		t.Fatalf("commands %q: the second opener reached the module", cmds)
	}
}

// A module at another baud rate than configured: Check names the rate it
// answers at; Run keeps retrying (offline) until the config is fixed.
func TestCheckFindsBaud(t *testing.T) {
	for _, protocol := range []string{serial.ProtocolThingMagic, serial.ProtocolR2000} {
		t.Run(protocol, func(t *testing.T) {
			sim := newSim(t, protocol)
			defer sim.Close()
			sim.SetBaud(921600)
			src, _ := serial.New(reader.Config{ID: "baud", Settings: &serial.Settings{Device: sim.Path(), Protocol: protocol, Baud: 115200}}, reader.Env{Log: quietLog()})
			serial.UseFastTiming(src)
			_, err := src.Check(context.Background())
			if !errors.Is(err, serial.ErrNoAnswer) || !strings.Contains(err.Error(), "set `baud: 921600`") {
				t.Fatalf("Check = %v, want no answer naming baud 921600", err)
			}
			src, _ = serial.New(reader.Config{ID: "baud", Settings: &serial.Settings{Device: sim.Path(), Protocol: protocol, Baud: 921600}}, reader.Env{Log: quietLog()})
			serial.UseFastTiming(src)
			if desc, err := src.Check(context.Background()); err != nil || !strings.HasSuffix(desc, "at 921600 baud") {
				t.Fatalf("Check at the right baud = %q, %v", desc, err)
			}
		})
	}
}

func TestCheckFailures(t *testing.T) {
	// wrong protocol: an ASCII reader never answers GET_VERSION
	sim := newSim(t, serial.ProtocolASCII)
	defer sim.Close()
	src, _ := serial.New(reader.Config{ID: "chk", Settings: &serial.Settings{Device: sim.Path(), Protocol: serial.ProtocolThingMagic}}, reader.Env{Log: quietLog()})
	serial.UseFastTiming(src)
	if _, err := src.Check(context.Background()); !errors.Is(err, serial.ErrNoAnswer) {
		t.Errorf("thingmagic against a silent line: %v, want ErrNoAnswer", err)
	}
	// a line that does not match the pattern
	go func() {
		time.Sleep(50 * time.Millisecond)
		sim.WriteRaw([]byte("READER READY\r\n"))
	}()
	src, _ = serial.New(reader.Config{ID: "chk", Settings: &serial.Settings{Device: sim.Path(), Protocol: serial.ProtocolASCII}}, reader.Env{Log: quietLog()})
	serial.UseFastTiming(src)
	if _, err := src.Check(context.Background()); !errors.Is(err, serial.ErrNoMatch) || !strings.Contains(err.Error(), "pattern") {
		t.Errorf("non-matching first line: %v, want ErrNoMatch naming the pattern", err)
	}
	// no such device
	src, _ = serial.New(reader.Config{ID: "chk", Settings: &serial.Settings{Device: filepath.Join(t.TempDir(), "ttyUSB9"), Protocol: serial.ProtocolR2000}}, reader.Env{Log: quietLog()})
	if _, err := src.Check(context.Background()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing device: %v, want not-exist", err)
	}
	// not a tty
	f := filepath.Join(t.TempDir(), "plain-file")
	os.WriteFile(f, nil, 0o600)
	src, _ = serial.New(reader.Config{ID: "chk", Settings: &serial.Settings{Device: f, Protocol: serial.ProtocolR2000}}, reader.Env{Log: quietLog()})
	if _, err := src.Check(context.Background()); err == nil {
		t.Errorf("a plain file passed Check")
	}
}

func TestNewValidation(t *testing.T) {
	ok := reader.Config{ID: "r", Type: reader.TypeSerial, Settings: &serial.Settings{Device: "/dev/ttyUSB0", Protocol: serial.ProtocolThingMagic}}
	if _, err := serial.New(ok, reader.Env{}); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		mod  func(*reader.Config)
		want string
	}{
		"no id":         {func(c *reader.Config) { c.ID = "" }, "id"},
		"no device":     {func(c *reader.Config) { settingsIn(c).Device = "" }, "device"},
		"no protocol":   {func(c *reader.Config) { settingsIn(c).Protocol = "" }, "protocol"},
		"bad protocol":  {func(c *reader.Config) { settingsIn(c).Protocol = "llrp" }, `protocol: "llrp"`},
		"bad type":      {func(c *reader.Config) { c.Type = "mqtt" }, "type"},
		"bad baud":      {func(c *reader.Config) { settingsIn(c).Baud = -9600 }, "baud"},
		"bad region":    {func(c *reader.Config) { settingsIn(c).Region = "MARS" }, "region"},
		"region on r2k": {func(c *reader.Config) { settingsIn(c).Protocol = serial.ProtocolR2000; settingsIn(c).Region = "EU3" }, "region"},
		"pattern on tm": {func(c *reader.Config) { settingsIn(c).Pattern = "(?P<epc>.*)" }, "pattern"},
		"bad pattern":   {func(c *reader.Config) { settingsIn(c).Protocol = serial.ProtocolASCII; settingsIn(c).Pattern = "(" }, "pattern"},
		"no epc group": {func(c *reader.Config) {
			settingsIn(c).Protocol = serial.ProtocolASCII
			settingsIn(c).Pattern = "[0-9A-F]+"
		}, "epc"},
		"antenna 0":      {func(c *reader.Config) { c.Antennas = []int{1, 0} }, "antennas[1]"},
		"r2000 antenna9": {func(c *reader.Config) { settingsIn(c).Protocol = serial.ProtocolR2000; c.Antennas = []int{9} }, "antennas[0]"},
	} {
		cfg := cloneConfig(ok)
		tc.mod(&cfg)
		_, err := serial.New(cfg, reader.Env{})
		if !errors.Is(err, serial.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrConfig naming %q", name, err, tc.want)
		}
	}
}

func TestSimulatorProtocol(t *testing.T) {
	if _, err := serialsim.New("llrp", nil); !errors.Is(err, serial.ErrConfig) {
		t.Fatalf("serialsim.New(llrp): %v", err)
	}
}

// A Sink that fails (pipeline shut down) stops Run with an error instead of
// reconnecting forever.
func TestRunStopsWhenSinkFails(t *testing.T) {
	sim := newSim(t, serial.ProtocolASCII)
	defer sim.Close()
	src, _ := serial.New(reader.Config{ID: "sinkfail", Settings: &serial.Settings{Device: sim.Path(), Protocol: serial.ProtocolASCII}}, reader.Env{Log: quietLog()})
	serial.UseFastTiming(src)
	var mu sync.Mutex
	calls := 0
	sinkErr := errors.New("pipeline closed")
	sink := reader.SinkFunc(func(ctx context.Context, reads []reader.Read) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return nil // the online status
		}
		return sinkErr
	})
	done := make(chan error, 1)
	go func() { done <- src.Run(context.Background(), sink) }()
	waitFor(t, "online", func() bool { mu.Lock(); defer mu.Unlock(); return calls >= 1 })
	sim.Feed(reader.Read{EPC: epc1, Antenna: 1})
	select {
	case err := <-done:
		if !errors.Is(err, sinkErr) {
			t.Fatalf("Run = %v, want the sink's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept going after the sink failed")
	}
}

// settingsIn returns the serial settings of c, for tests that edit them.
func settingsIn(c *reader.Config) *serial.Settings {
	if c.Settings == nil {
		c.Settings = &serial.Settings{}
	}
	return c.Settings.(*serial.Settings)
}

// cloneConfig copies c with its own settings, so an edit stays in the copy.
func cloneConfig(c reader.Config) reader.Config {
	s := *settingsIn(&c)
	c.Settings = &s
	return c
}
