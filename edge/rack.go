package edge

import "math"

// rackSlot is the smoothing state of one (tag, rack zone): the ALE-style
// presence test (min_reads within presence_window) and a time-weighted RSSI
// average over about presence_window. 56 bytes.
type rackSlot struct {
	first, last int64   // ns; the current run of reads (restarts after presence_window of silence)
	next        int32   // next slot of the same tag; -1 = end
	count       uint32  // reads in the current run
	smoothed    float32 // dBm
	peak        float32 // dBm
	antMask     uint32  // antennas 1..32 that read it (evidence)
	zone        uint16
	n           uint8 // valid entries of ago
	readerMask  uint8 // bits index zoneState.readerIDs (evidence)
	// ago[i] is how many ms before last the (i+1)-th previous read was,
	// saturating at 65535 (MaxPresenceWindow keeps that unambiguous).
	ago [MaxMinReads - 1]uint16
}

// minAlpha keeps simultaneous reads (dt = 0) from being ignored entirely.
const minAlpha = 1.0 / 16

func (s *rackSlot) observe(z *zoneState, rssi float32, antenna int, rbit uint8, t int64) {
	if s.count == 0 || t-s.last > z.window {
		*s = rackSlot{next: s.next, zone: s.zone, first: t, smoothed: rssi, peak: rssi}
	} else {
		dt := t - s.last
		d := uint32(min(dt/1e6, math.MaxUint16))
		for i := len(s.ago) - 1; i > 0; i-- {
			s.ago[i] = uint16(min(uint32(s.ago[i-1])+d, math.MaxUint16))
		}
		s.ago[0] = uint16(d)
		if int(s.n) < len(s.ago) {
			s.n++
		}
		// Time-weighted exponential average with time constant
		// presence_window/2: a read after a long gap counts fully, a burst
		// of reads shares the weight of the time it spans.
		a := -math.Expm1(-float64(dt) / z.tau)
		if a < minAlpha {
			a = minAlpha
		}
		s.smoothed += float32(float64(rssi-s.smoothed) * a)
		if rssi > s.peak {
			s.peak = rssi
		}
	}
	if s.count < math.MaxUint32 {
		s.count++
	}
	s.last = t
	s.antMask |= antBit(antenna)
	s.readerMask |= 1 << rbit
}

// present reports whether the tag counts as present in the zone at t: at
// least min_reads reads within presence_window before t.
func (s *rackSlot) present(z *zoneState, t int64) bool {
	if s.count == 0 || t-s.last > z.window {
		return false
	}
	k := z.minRead - 1
	if k == 0 {
		return true
	}
	if int(s.n) < k {
		return false
	}
	return t-(s.last-int64(s.ago[k-1])*1e6) <= z.window
}

func (e *Engine) allocRack() int32 {
	if si := e.freeRack; si >= 0 {
		e.freeRack = e.rslots[si].next
		return si
	}
	e.rslots = append(e.rslots, rackSlot{})
	return int32(len(e.rslots) - 1)
}

func (e *Engine) freeRackSlot(si int32) {
	e.rslots[si] = rackSlot{next: e.freeRack}
	e.freeRack = si
}

// rackSlotFor finds or adds the tag's slot for rack zone zi.
func (e *Engine) rackSlotFor(ti, zi int32) int32 {
	for si := e.tags[ti].firstRack; si >= 0; si = e.rslots[si].next {
		if int32(e.rslots[si].zone) == zi {
			return si
		}
	}
	si := e.allocRack()
	e.rslots[si] = rackSlot{zone: uint16(zi), next: e.tags[ti].firstRack}
	e.tags[ti].firstRack = si
	return si
}

func (e *Engine) rackRead(dst []Event, ti int32, rt route, rssi float32, antenna int, t int64) []Event {
	si := e.rackSlotFor(ti, rt.zone)
	e.rslots[si].observe(&e.zones[rt.zone], rssi, antenna, rt.rbit, t)
	return e.settle(dst, ti, t)
}

// settle re-evaluates the tag's rack after a rack read at t. The candidate
// is the present rack zone with the strongest smoothed RSSI; it must beat a
// present settled rack by hysteresis_db and stay the candidate for dwell
// before it becomes the settled rack. Slots of other zones silent for longer
// than presence_window are freed on the way.
func (e *Engine) settle(dst []Event, ti int32, t int64) []Event {
	tg := &e.tags[ti]
	rack := int32(tg.rack)
	best, prev := int32(-1), int32(-1)
	var bestS, rackS float32
	rackPresent := false
	for si := tg.firstRack; si >= 0; {
		s := &e.rslots[si]
		next := s.next
		zi := int32(s.zone)
		z := &e.zones[zi]
		if zi != rack && t-s.last > z.window {
			if prev < 0 {
				tg.firstRack = next
			} else {
				e.rslots[prev].next = next
			}
			e.freeRackSlot(si)
			si = next
			continue
		}
		if s.present(z, t) {
			if zi == rack {
				rackPresent, rackS = true, s.smoothed
			}
			if best < 0 || s.smoothed > bestS || (s.smoothed == bestS && zi < best) {
				best, bestS = zi, s.smoothed
			}
		}
		prev, si = si, next
	}
	if best < 0 || best == rack {
		tg.cand = -1
		return dst
	}
	bz := &e.zones[best]
	if rackPresent && float64(bestS) < float64(rackS)+bz.hyst {
		tg.cand = -1
		return dst
	}
	// A dwell that spans a reader outage starts again: the engine did not
	// see the tag stay.
	if int32(tg.cand) != best || tg.candSince < bz.onlineSince {
		tg.cand, tg.candSince = int16(best), t
	}
	if t-tg.candSince < bz.dwell {
		return dst
	}
	return e.move(dst, ti, best, t)
}

func (e *Engine) move(dst []Event, ti, to int32, t int64) []Event {
	tg := &e.tags[ti]
	tz := &e.zones[to]
	ev := Event{Type: RackMove, EPC: tg.epc, Time: timeOf(t), Zone: tz.id, To: tz.location()}
	if tg.rack >= 0 {
		ev.From = e.zones[tg.rack].location()
	}
	ev.Evidence = e.rackEvidence(tz, &e.rslots[e.rackSlotFor(ti, to)])
	tg.rack, tg.cand = int16(to), -1
	e.changes = append(e.changes, StateChange{EPC: tg.epc, Rack: tz.id})
	return append(dst, ev)
}

func (e *Engine) depart(dst []Event, ti, si int32, due int64) []Event {
	tg := &e.tags[ti]
	z := &e.zones[tg.rack]
	ev := Event{Type: RackDepart, EPC: tg.epc, Time: timeOf(due), Zone: z.id, From: z.location(),
		Evidence: e.rackEvidence(z, &e.rslots[si])}
	tg.rack = -1
	e.changes = append(e.changes, StateChange{EPC: tg.epc})
	return append(dst, ev)
}

// rackEvidence describes the current run of reads of a slot. A slot restored
// from persisted state and never read since has no reads; its times are
// when the engine started watching.
func (e *Engine) rackEvidence(z *zoneState, s *rackSlot) *Evidence {
	ev := &Evidence{Reads: int(s.count), FirstSeen: timeOf(s.first), LastSeen: timeOf(s.last), PeakRSSI: roundRSSI(s.peak)}
	if s.count == 0 {
		ev.FirstSeen, ev.LastSeen = timeOf(e.start), timeOf(e.start)
	}
	evidenceLists(ev, z, s.readerMask, s.antMask)
	return ev
}
