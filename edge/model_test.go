package edge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// A re-implementation of the physical model described in
// testdata/scenarios/README.md, used to check the engine on many seeded
// floors beyond the ten recorded scenarios: each tag follows a random script
// (entries, rack stays, pushes to the next rack, carries, storms, strays,
// one-sided approaches, lingering, exits, long absences) whose expected
// events follow the README's rules. Timings keep to the README's
// unambiguous ranges (absences ≤ 30 s or ≥ 90 s, events tens of seconds
// apart).

type modelFloor struct {
	rng    *rand.Rand
	reads  []reader.Read
	expect []reduced
}

// rackAnt gives the (reader, antenna) of a rack; racks 0..3 are A01..A04
// (neighbours in a row), 4 is B01.
func rackAnt(r int) (string, int) {
	if r == 4 {
		return "rack-row-b", 1
	}
	return "rack-row-a", r + 1
}

func rackID(r int) string {
	if r == 4 {
		return "rack-B01"
	}
	return fmt.Sprintf("rack-A%02d", r+1)
}

func neighbours(r int) []int {
	switch r {
	case 4:
		return nil
	case 0:
		return []int{1}
	case 3:
		return []int{2}
	}
	return []int{r - 1, r + 1}
}

func (m *modelFloor) read(step time.Duration, rdr string, ant int, epc string, rssi float64) {
	rssi = math.Round(min(max(rssi, -90), -25)*2) / 2
	at := t0.Add(step + time.Duration(m.rng.Int64N(int64(100*time.Millisecond))))
	m.reads = append(m.reads, reader.Read{Time: at, Reader: rdr, Antenna: ant, EPC: epc, RSSI: rssi})
}

const modelStep = 100 * time.Millisecond

// atRack: the tag sits in rack r over [from, to); storm over [sFrom, sTo).
func (m *modelFloor) atRack(epc string, r int, from, to, sFrom, sTo time.Duration) {
	rdr, ant := rackAnt(r)
	for s := from; s < to; s += modelStep {
		if m.rng.Float64() < 0.7 {
			m.read(s, rdr, ant, epc, -50+m.rng.NormFloat64()*2.5)
		}
		storm := s >= sFrom && s < sTo
		for _, n := range neighbours(r) {
			nr, na := rackAnt(n)
			if storm {
				if m.rng.Float64() < 0.5 {
					m.read(s, nr, na, epc, -60+m.rng.NormFloat64()*3)
				}
			} else if m.rng.Float64() < 0.15 {
				m.read(s, nr, na, epc, -66+m.rng.NormFloat64()*3)
			}
		}
	}
}

// gateSide reads the antennas of one side around a peak at p.
func (m *modelFloor) gateSide(epc string, ants []int, p time.Duration, peak float64) {
	for s := p - 1200*time.Millisecond; s <= p+1200*time.Millisecond; s += modelStep {
		for _, a := range ants {
			if m.rng.Float64() >= 0.6 {
				continue
			}
			d := (s - p).Seconds()
			rssi := peak - 24*d*d + m.rng.NormFloat64()*2
			if rssi >= -80 {
				m.read(s, "dock-1", a, epc, rssi)
			}
		}
	}
}

var outsideAnts, insideAnts = []int{1, 2}, []int{3, 4}

// crossing starting at c; inward from outside.
func (m *modelFloor) crossing(epc string, c time.Duration, inward bool) {
	first, second := outsideAnts, insideAnts
	if !inward {
		first, second = second, first
	}
	m.gateSide(epc, first, c+750*time.Millisecond, -45)
	m.gateSide(epc, second, c+2250*time.Millisecond, -45)
}

func (m *modelFloor) linger(epc string, ants []int, from, to time.Duration) {
	for s := from; s < to; s += modelStep {
		for _, a := range ants {
			if m.rng.Float64() < 0.15 {
				m.read(s, "dock-1", a, epc, -60+m.rng.NormFloat64()*3)
			}
		}
	}
}

func (m *modelFloor) between(a, b time.Duration) time.Duration {
	return a + time.Duration(m.rng.Int64N(int64(b-a)))
}

// tag plays one tag's random script over [start, end).
func (m *modelFloor) tag(epc string, start, end time.Duration) {
	rack := -1 // settled rack, -1 = none
	t := start
	expect := func(typ EventType, zone, from, to string) {
		m.expect = append(m.expect, reduced{Type: string(typ), EPC: epc, Zone: zone, From: from, To: to})
	}
	rackName := func(r int) string {
		if r < 0 {
			return "null"
		}
		return rackID(r)
	}
	// Start outside: come in through the gate (lingering outside first
	// sometimes), or start in a rack.
	if m.rng.IntN(2) == 0 {
		if m.rng.IntN(3) == 0 {
			l := m.between(20*time.Second, 120*time.Second)
			m.linger(epc, outsideAnts, t, t+l)
			t += l
		}
		m.crossing(epc, t, true)
		expect(Inward, "gate-a", "", "")
		t += 3 * time.Second
		if m.rng.IntN(3) == 0 {
			l := m.between(20*time.Second, 150*time.Second)
			m.linger(epc, insideAnts, t, t+l)
			t += l
		}
		t += m.between(10*time.Second, 30*time.Second) // carried
	}
	for t < end-6*time.Minute {
		r := m.rng.IntN(5)
		stay := m.between(40*time.Second, 4*time.Minute)
		sFrom, sTo := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
		if m.rng.IntN(4) == 0 && stay > 2*time.Minute && r != 4 {
			sFrom = t + 30*time.Second
			sTo = sFrom + m.between(20*time.Second, stay-time.Minute)
		}
		m.atRack(epc, r, t, t+stay, sFrom, sTo)
		if rack != r {
			expect(RackMove, "", rackName(rack), rackName(r))
			rack = r
		}
		if m.rng.IntN(4) == 0 { // a stray read on an unrelated antenna
			s := m.between(t+20*time.Second, t+stay-10*time.Second)
			rdr, ant := rackAnt((r + 2) % 5)
			if m.rng.IntN(2) == 0 {
				rdr, ant = "dock-1", 1+m.rng.IntN(4)
			}
			m.read(s, rdr, ant, epc, -58)
		}
		t += stay
		switch k := m.rng.IntN(6); {
		case k == 0 && r != 4 && r != 3: // pushed into the next rack
			continue
		case k <= 2: // carried somewhere else within 30 s
			t += m.between(5*time.Second, 30*time.Second)
			continue
		case k == 3: // one-sided approach while away, then back within 30 s
			m.gateSide(epc, [][]int{outsideAnts, insideAnts}[m.rng.IntN(2)], t+10*time.Second, -47)
			t += 25 * time.Second
			continue
		default: // leaves: long absence (depart), maybe out through the gate
			last := t
			if m.rng.IntN(2) == 0 {
				c := t + 20*time.Second
				if m.rng.IntN(3) == 0 {
					l := m.between(10*time.Second, 20*time.Second)
					m.linger(epc, insideAnts, t+5*time.Second, t+5*time.Second+l)
				}
				m.crossing(epc, c, false)
				expect(Outward, "gate-a", "", "")
				expect(RackDepart, "", rackName(rack), "")
				rack = -1
				t = last + m.between(2*time.Minute, 5*time.Minute)
				if t < end-6*time.Minute {
					m.crossing(epc, t, true)
					expect(Inward, "gate-a", "", "")
					t += m.between(20*time.Second, 40*time.Second)
				}
				continue
			}
			expect(RackDepart, "", rackName(rack), "")
			rack = -1
			t += m.between(90*time.Second, 4*time.Minute)
		}
	}
	// The script ends at most 2 minutes before the floor does (a keeper tag
	// is read until then), so a tag still in a rack departs in time.
	if rack >= 0 {
		expect(RackDepart, "", rackName(rack), "")
	}
}

func modelScenario(seed uint64, tags int, length time.Duration) ([]reader.Read, []reduced) {
	m := &modelFloor{rng: rand.New(rand.NewPCG(seed, 99))}
	for i := range tags {
		epc := fmt.Sprintf("3034%020X", m.rng.Uint64()>>(i%3))
		m.tag(epc, m.between(0, time.Minute), length)
	}
	// A keeper tag in B01 keeps reads (and so the engine's clock) going.
	m.atRack("3034FFFFFFFFFFFFFFFFFFFF", 4, 0, length, -1, -1)
	m.expect = append(m.expect, reduced{Type: string(RackMove), EPC: "3034FFFFFFFFFFFFFFFFFFFF", From: "null", To: "rack-B01"})
	slices.SortStableFunc(m.reads, func(a, b reader.Read) int { return a.Time.Compare(b.Time) })
	// Expected events are kept per EPC in order; compare() checks that.
	return m.reads, m.expect
}

// TestModelFloors runs the engine over seeded random floors of the README's
// physical model and requires precision and recall 1 on each.
func TestModelFloors(t *testing.T) {
	cfg := loadConfig(t, "testdata/scenarios/busy_floor/zones.yaml")
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	var total score
	for seed := range uint64(seeds) {
		reads, want := modelScenario(seed+1, 20, 40*time.Minute)
		sc := &scenario{name: fmt.Sprintf("model-%d", seed+1), cfg: cfg, reads: reads, expected: want}
		got, _ := replay(t, sc)
		s := compare(got, want)
		total.printed += s.printed
		total.expected += s.expected
		total.matched += s.matched
		msg := fmt.Sprintf("%s: %d reads, precision %.3f recall %.3f (%d printed, %d expected)",
			sc.name, len(reads), ratio(s.matched, s.printed), ratio(s.matched, s.expected), s.printed, s.expected)
		t.Log(msg)
		for _, o := range s.orderErrs {
			t.Errorf("%s: %s", sc.name, o)
		}
	}
	msg := fmt.Sprintf("model floors: precision %.4f recall %.4f (%d printed, %d expected)",
		ratio(total.matched, total.printed), ratio(total.matched, total.expected), total.printed, total.expected)
	t.Log(msg)
	fmt.Println(msg)
}
