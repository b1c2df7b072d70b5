package edge

// gateSide is what one side of a gate saw of a tag.
type gateSide struct {
	first, last int64 // ns
	peakAt      int64 // ns; when the strongest read was
	count       uint32
	peak        float32
	antMask     uint32
	readerMask  uint8
}

// gateSlot is one (tag, gate) pair. A crossing is pending once both sides
// saw the tag (min_reads times each) within gate_window of each other. The
// decision waits until a quarter of gate_window has passed after the later
// of the two sides' peaks (a stronger read moves that on), and at most
// gate_window after the crossing became pending; then the order of the
// peaks gives the direction. After a decision both sides start empty, so a
// tag lingering at one side does not repeat the event.
type gateSlot struct {
	sides    [2]gateSide // outside, inside
	decideAt int64       // ns; valid while pending
	limit    int64       // ns; latest decideAt: pending start + gate_window
	last     int64       // ns; last read on either side
	timerSeq uint64      // seq of the slot's live timer; others are stale
	timerDue int64       // ns; due of that timer
	tag      int32
	next     int32 // next gate slot of the same tag
	zone     uint16
	pending  bool
}

func (e *Engine) allocGate() int32 {
	if gi := e.freeGate; gi >= 0 {
		e.freeGate = e.gslots[gi].next
		return gi
	}
	e.gslots = append(e.gslots, gateSlot{})
	return int32(len(e.gslots) - 1)
}

func (e *Engine) freeGateSlot(gi int32) {
	e.gslots[gi] = gateSlot{next: e.freeGate}
	e.freeGate = gi
}

func (e *Engine) gateRead(ti int32, rt route, rssi float32, antenna int, t int64) {
	z := &e.zones[rt.zone]
	gi := int32(-1)
	for i := e.tags[ti].firstGate; i >= 0; i = e.gslots[i].next {
		if int32(e.gslots[i].zone) == rt.zone {
			gi = i
			break
		}
	}
	if gi < 0 {
		gi = e.allocGate()
		e.gslots[gi] = gateSlot{tag: ti, zone: uint16(rt.zone), next: e.tags[ti].firstGate}
		e.tags[ti].firstGate = gi
		e.armGate(gi, t+z.gw)
	}
	g := &e.gslots[gi]
	sd := &g.sides[rt.side-sideOutside]
	switch {
	case sd.count == 0 || (!g.pending && t-sd.peakAt > z.gw):
		// Before a crossing is pending a side only remembers about the
		// last gate_window (its peak and the reads since), so minutes of
		// lingering neither hide the crossing's peak nor fill its evidence.
		*sd = gateSide{first: t, peakAt: t, peak: rssi}
	case rssi > sd.peak:
		sd.peak, sd.peakAt = rssi, t
	}
	sd.count++
	sd.last = t
	sd.antMask |= antBit(antenna)
	sd.readerMask |= 1 << rt.rbit
	g.last = t
	// A crossing is pending once both sides have min_reads reads, the
	// other side's last within gate_window: a single stray read on the
	// other side must not start (and so cut short) a decision.
	if !g.pending && sd.count >= uint32(z.minRead) {
		other := &g.sides[sideInside-rt.side]
		if other.count >= uint32(z.minRead) && t-other.last <= z.gw {
			g.pending, g.limit = true, t+z.gw
			g.decideAt = g.settledAt(z)
			if g.decideAt < g.timerDue {
				e.armGate(gi, g.decideAt)
			}
		}
	} else if g.pending {
		// Only ever later: the queued timer stays a lower bound.
		g.decideAt = g.settledAt(z)
	}
}

// settledAt is when a pending crossing can be decided: a quarter of
// gate_window after the later side's peak, at most limit.
func (g *gateSlot) settledAt(z *zoneState) int64 {
	return min(g.limit, max(g.sides[0].peakAt, g.sides[1].peakAt)+z.gw/4)
}

// armGate queues the slot's timer at due; an earlier queued one goes stale.
func (e *Engine) armGate(gi int32, due int64) {
	g := &e.gslots[gi]
	g.timerDue = due
	g.timerSeq = e.push(due, timerGate, gi)
}

func (e *Engine) gateTimer(dst []Event, tm timer) []Event {
	gi := tm.ref
	g := &e.gslots[gi]
	if tm.seq != g.timerSeq {
		return dst // replaced by an earlier deadline, or the slot was freed
	}
	if g.pending {
		if g.decideAt > tm.due {
			e.armGate(gi, g.decideAt)
			return dst
		}
		dst = e.decide(dst, gi)
		g = &e.gslots[gi]
	}
	if due := g.last + e.zones[g.zone].gw; due > tm.due {
		e.armGate(gi, due)
		return dst
	}
	// Silent for gate_window: forget the pair.
	tg := &e.tags[g.tag]
	if tg.firstGate == gi {
		tg.firstGate = g.next
	} else {
		for i := tg.firstGate; i >= 0; i = e.gslots[i].next {
			if e.gslots[i].next == gi {
				e.gslots[i].next = g.next
				break
			}
		}
	}
	e.freeGateSlot(gi)
	return dst
}

// decide ends a pending crossing: an event when both sides saw the tag at
// least min_reads times and their peaks are within gate_window, in the
// order of the peaks. It is stamped with the later peak (when the tag was
// through).
func (e *Engine) decide(dst []Event, gi int32) []Event {
	g := &e.gslots[gi]
	z := &e.zones[g.zone]
	out, in := g.sides[0], g.sides[1]
	g.pending = false
	g.sides = [2]gateSide{}
	n := uint32(z.minRead)
	if out.count < n || in.count < n {
		return dst
	}
	d := in.peakAt - out.peakAt
	if d == 0 || d > z.gw || -d > z.gw {
		return dst
	}
	ev := Event{Type: Inward, EPC: e.tags[g.tag].epc, Time: timeOf(in.peakAt), Zone: z.id}
	if d < 0 {
		ev.Type, ev.Time = Outward, timeOf(out.peakAt)
	}
	evd := &Evidence{
		Reads:     int(out.count + in.count),
		FirstSeen: timeOf(min(out.first, in.first)),
		LastSeen:  timeOf(max(out.last, in.last)),
		PeakRSSI:  roundRSSI(max(out.peak, in.peak)),
	}
	evidenceLists(evd, z, out.readerMask|in.readerMask, out.antMask|in.antMask)
	ev.Evidence = evd
	return append(dst, ev)
}
