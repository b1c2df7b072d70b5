package serial

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ---- ThingMagic ----------------------------------------------------------

type tmSession struct {
	s          *Source
	c          *conn
	dec        *ThingMagicDecoder
	lastWarn   map[uint16]time.Time
	bootloader bool // the module runs its bootloader, not the application
}

// request sends cmd and waits for the answer with opcode op, skipping
// anything else (stream records still arriving from before a stop). It tries
// s.t.attempts times. A non-zero status is an ErrModuleStatus.
func (t *tmSession) request(ctx context.Context, cmd []byte, what string) (TMFrame, error) {
	return t.requestWithin(ctx, cmd, what, t.s.t.answer)
}

func (t *tmSession) requestWithin(ctx context.Context, cmd []byte, what string, answer time.Duration) (TMFrame, error) {
	op := cmd[2]
	for attempt := 0; attempt < t.s.t.attempts; attempt++ {
		if err := t.c.write(cmd); err != nil {
			return TMFrame{}, err
		}
		w := wait{deadline: time.Now().Add(answer)}
		for {
			f, err := nextFrame(ctx, t.c, t.dec, w, nil)
			if errors.Is(err, errTimeout) {
				break
			}
			if err != nil {
				return TMFrame{}, err
			}
			if f.Opcode != op {
				continue
			}
			if f.Status != TMStatusOK {
				return f, fmt.Errorf("%w: %s: status 0x%04X", ErrModuleStatus, what, f.Status)
			}
			return f, nil
		}
	}
	return TMFrame{}, fmt.Errorf("%w: %s (opcode 0x%02X) unanswered after %d tries at %d baud: check baud, protocol and cable",
		ErrNoAnswer, what, op, t.s.t.attempts, t.s.baud)
}

func (t *tmSession) handshake(ctx context.Context) (string, error) {
	// A module left streaming by an earlier run keeps streaming across our
	// restart; stop it first (its answer, if any, is skipped by request).
	if err := t.c.write(tmCmdStop); err != nil {
		return "", err
	}
	f, err := t.request(ctx, tmCmdVersion, "GET_VERSION")
	if err != nil {
		return "", err
	}
	v, err := ParseThingMagicVersion(f.Data)
	if err != nil {
		return "", err
	}
	// Full-size M6e modules power up in their bootloader (MERCURY
	// TMR_SR_boot); older firmwares may not know the command, so only a
	// clear "bootloader" answer counts.
	if f, err := t.request(ctx, tmCmdProgram, "GET_CURRENT_PROGRAM"); err == nil && len(f.Data) > 0 && f.Data[0]&0x03 == 1 {
		t.bootloader = true
		return v.String() + " (in bootloader; the gateway boots the firmware)", nil
	} else if ctx.Err() != nil {
		return "", ctx.Err()
	}
	return v.String(), nil
}

func (t *tmSession) start(ctx context.Context) error {
	if t.bootloader {
		if _, err := t.requestWithin(ctx, tmCmdBoot, "BOOT_FIRMWARE", 3*t.s.t.answer); err != nil {
			return err
		}
		t.s.log.Info("ThingMagic module was in its bootloader; firmware booted")
	}
	if t.s.region != 0 {
		if _, err := t.request(ctx, tmCmdRegion(t.s.region), fmt.Sprintf("SET_REGION %s", t.s.set.Region)); err != nil {
			return err
		}
	}
	if _, err := t.request(ctx, tmCmdGen2, "SET_TAG_PROTOCOL GEN2"); err != nil {
		return err
	}
	if len(t.s.cfg.Antennas) > 0 {
		if _, err := t.request(ctx, tmCmdAntennas(t.s.cfg.Antennas), fmt.Sprintf("SET_ANTENNA_PORT %v", t.s.cfg.Antennas)); err != nil {
			return err
		}
	}
	if _, err := t.request(ctx, tmCmdStart, "start continuous read"); err != nil {
		return err
	}
	return nil
}

// stream handles continuous-read records. Read.Time is the host's receive
// time: the module's timestamp metadata counts from a base that differs
// between firmwares (since the last keep-alive, or since the read started),
// and the receive time is monotonic per reader.
func (t *tmSession) stream(ctx context.Context, out *batcher) error {
	w := wait{silence: t.s.t.silence}
	if f := t.s.set.FreezeAfter; f > 0 {
		w.silence = f
	}
	for {
		f, err := nextFrame(ctx, t.c, t.dec, w, out)
		if err != nil {
			return err
		}
		rec, err := ParseThingMagicRecord(f)
		if err != nil {
			t.s.frameError(err)
			continue
		}
		switch rec.Kind {
		case TMTag:
			out.add(rec.Tag, time.Now())
		case TMStreamEnd:
			// The module ended the stream by itself (a reset, or another
			// host sent stop): ask again rather than drop the connection.
			t.s.log.Info("ThingMagic module ended continuous reading, restarting it")
			if err := t.c.write(tmCmdStart); err != nil {
				return err
			}
		case TMWarning:
			t.warn(rec.Status)
		case TMResponse:
			if f.Status != TMStatusOK {
				t.warn(f.Status)
			}
		}
	}
}

// warn logs a module status at most once a minute per status code.
func (t *tmSession) warn(status uint16) {
	now := time.Now()
	if t.lastWarn == nil {
		t.lastWarn = map[uint16]time.Time{}
	}
	if last, ok := t.lastWarn[status]; ok && now.Sub(last) < time.Minute {
		return
	}
	t.lastWarn[status] = now
	what := "module status"
	switch status {
	case tmStatusTempThrottle:
		what = "module too hot, throttling (improve cooling or lower duty cycle)"
	case tmStatusReturnLoss:
		what = "high antenna return loss (check antenna and cable)"
	}
	t.s.log.Warn("ThingMagic "+what, "status", fmt.Sprintf("0x%04X", status))
}

func (t *tmSession) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), t.s.t.stopWait)
	defer cancel()
	if err := t.c.write(tmCmdStop); err != nil {
		return
	}
	w := wait{deadline: time.Now().Add(t.s.t.stopWait)}
	for {
		f, err := nextFrame(ctx, t.c, t.dec, w, nil)
		if err != nil {
			t.s.log.Debug("ThingMagic stop not confirmed", "err", err)
			return
		}
		if f.Opcode == TMOpMultiProtocol {
			t.s.log.Debug("ThingMagic continuous reading stopped")
			return
		}
	}
}

// ---- R2000 ---------------------------------------------------------------

type r2000Session struct {
	s             *Source
	c             *conn
	dec           *R2000Decoder
	missingLogged bool // "antenna missing" is logged once per connection
}

// request sends cmd and waits for a frame with the same command number.
// Tag records that arrive meanwhile (late from the last round) go to out
// when it is not nil.
func (r *r2000Session) request(ctx context.Context, cmd []byte, what string, tries int, out *batcher) (R2000Frame, error) {
	for attempt := 0; attempt < tries; attempt++ {
		if err := r.c.write(cmd); err != nil {
			return R2000Frame{}, err
		}
		w := wait{deadline: time.Now().Add(r.s.t.answer)}
		for {
			f, err := nextFrame(ctx, r.c, r.dec, w, nil)
			if errors.Is(err, errTimeout) {
				break
			}
			if err != nil {
				return R2000Frame{}, err
			}
			if f.Cmd == cmd[3] {
				return f, nil
			}
			if out != nil {
				if rec, err := ParseR2000Inventory(f); err == nil && rec.Kind == R2000Tag {
					out.add(rec.Tag, time.Now())
				}
			}
		}
	}
	return R2000Frame{}, fmt.Errorf("%w: %s (cmd 0x%02X) unanswered after %d tries at %d baud: check baud, protocol and cable",
		ErrNoAnswer, what, cmd[3], tries, r.s.baud)
}

func (r *r2000Session) handshake(ctx context.Context) (string, error) {
	f, err := r.request(ctx, r2000CmdVersion, "get_firmware_version", r.s.t.attempts, nil)
	if err != nil {
		return "", err
	}
	v, err := ParseR2000Version(f)
	if err != nil {
		return "", err
	}
	return v.String(), nil
}

func (r *r2000Session) start(context.Context) error { return nil }

// stream re-issues cmd_real_time_inventory back to back: it runs one round
// and stops. With `antennas` configured, the work antenna cycles through
// them, one round each; otherwise the module's work antenna is left alone.
func (r *r2000Session) stream(ctx context.Context, out *batcher) error {
	ants := r.s.cfg.Antennas
	misses := 0
	for i := 0; ; i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if len(ants) > 0 {
			a := ants[i%len(ants)]
			f, err := r.request(ctx, r2000CmdAntenna(a), "set_work_antenna", 1, out)
			if errors.Is(err, ErrNoAnswer) {
				if misses++; misses >= r.s.t.roundMisses {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			if len(f.Data) == 1 && f.Data[0] != R2000Success {
				r.s.log.Warn("R2000 set_work_antenna failed", "antenna", a, "code", fmt.Sprintf("0x%02X", f.Data[0]))
			}
		}
		if err := r.c.write(r2000CmdInventory); err != nil {
			return err
		}
		done, err := r.round(ctx, out)
		if err != nil {
			return err
		}
		if !done {
			if misses++; misses >= r.s.t.roundMisses {
				return fmt.Errorf("%w: %d inventory rounds in a row unanswered", ErrNoAnswer, misses)
			}
			continue
		}
		misses = 0
	}
}

// round reads the answers to one inventory command until its end record or
// error record; done is false when the round timed out.
func (r *r2000Session) round(ctx context.Context, out *batcher) (done bool, err error) {
	round := r.s.t.round
	if f := r.s.set.FreezeAfter; f > 0 {
		round = f / time.Duration(r.s.t.roundMisses) // freeze_after = roundMisses unanswered rounds
	}
	w := wait{deadline: time.Now().Add(round)}
	for {
		f, err := nextFrame(ctx, r.c, r.dec, w, out)
		if errors.Is(err, errTimeout) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		rec, err := ParseR2000Inventory(f)
		if err != nil {
			r.s.frameError(err)
			continue
		}
		switch rec.Kind {
		case R2000Tag:
			out.add(rec.Tag, time.Now())
		case R2000RoundEnd:
			return true, out.flush()
		case R2000Error:
			if rec.ErrorCode == r2000AntennaMissing && !r.missingLogged {
				r.missingLogged = true
				r.s.log.Warn("R2000 reports an antenna missing (error 0x22): check the antenna cables or the `antennas` list")
			}
			return true, out.flush()
		}
	}
}

func (r *r2000Session) stop() {} // 0x89 is one-shot: not issuing it again is the stop

// ---- ASCII ---------------------------------------------------------------

type asciiSession struct {
	s     *Source
	c     *conn
	dec   *ASCIIDecoder
	first *Tag // the line that ended a wait after a freeze, delivered first
}

// handshake has nothing to ask an ASCII module. After a freeze (no line
// for freeze_after) the reopened port proves nothing, so the module counts
// as back only with its first line: the edge is not told online, then
// offline again after each freeze_after while it stays hung.
func (a *asciiSession) handshake(ctx context.Context) (string, error) {
	if !a.s.asciiFrozen {
		return "ascii lines", nil
	}
	tag, err := nextFrame(ctx, a.c, a.dec, wait{}, nil)
	if err != nil {
		return "", err
	}
	a.s.asciiFrozen = false
	a.first = &tag
	a.s.log.Info("ascii module sends lines again after a freeze")
	return "ascii lines", nil
}
func (a *asciiSession) start(context.Context) error { return nil }
func (a *asciiSession) stop()                       {}

func (a *asciiSession) stream(ctx context.Context, out *batcher) error {
	for {
		// freeze_after (off by default): no line for that long counts as a
		// hung module or adapter; the port is opened again.
		if a.first != nil {
			out.add(*a.first, time.Now())
			a.first = nil
		}
		tag, err := nextFrame(ctx, a.c, a.dec, wait{silence: a.s.set.FreezeAfter}, out)
		if err != nil {
			if errors.Is(err, ErrNoAnswer) && a.s.set.FreezeAfter > 0 {
				a.s.asciiFrozen = true
			}
			return err
		}
		out.add(tag, time.Now())
	}
}
