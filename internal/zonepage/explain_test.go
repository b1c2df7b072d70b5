package zonepage

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/reader"
)

// The tag view explains the real engine's rack decision: a neighbour that
// is stronger but short of hysteresis_db is "weaker" with the margin still
// needed; once it beats the settled rack by more it is the candidate with
// its dwell deadline; reads under min_rssi never make a zone present.
func TestExplainRackDecision(t *testing.T) {
	zones := testZones()
	hyst, dwell := 6.0, 4*time.Second
	zones[2].Overrides = edge.Overrides{HysteresisDB: &hyst, Dwell: &dwell} // rack-A02
	settings := edge.DefaultSettings()
	settings.MinRSSI = -70
	eng, err := edge.New(edge.Config{Zones: zones, Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	const epc = "E2000000000000000000E001"
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	now := start
	feed := func(from, to time.Duration, a1, a2 float64) {
		for d := from; d < to; d += 200 * time.Millisecond {
			now = start.Add(d)
			for _, r := range []reader.Read{
				{Time: now, Reader: "rack-row-a", Antenna: 1, EPC: epc, RSSI: a1},
				{Time: now, Reader: "rack-row-a", Antenna: 2, EPC: epc, RSSI: a2},
			} {
				eng.Process(nil, &r)
			}
			eng.Tick(nil, now)
		}
	}
	snap := func() TagDetail {
		c := NewZoneCollector(zones).WithSettings(settings)
		eng.Snapshot(now, c.Add)
		d, ok := c.Collect().Tag(epc)
		if !ok {
			t.Fatal("tag not in the snapshot")
		}
		return d
	}
	zoneOf := func(d TagDetail, id string) TagZone {
		for _, z := range d.Zones {
			if z.Zone == id {
				return z
			}
		}
		t.Fatalf("no %s in %+v", id, d.Zones)
		return TagZone{}
	}

	// Settled in A01; A02's antenna reads it under min_rssi only.
	feed(0, 10*time.Second, -50, -75)
	d := snap()
	if d.Zone != "rack-A01" || d.Candidate != "" {
		t.Fatalf("settled %q candidate %q, want rack-A01 and none", d.Zone, d.Candidate)
	}
	a1 := zoneOf(d, "rack-A01")
	if a1.Role != RoleSettled || a1.MinRSSI != -70 || a1.HysteresisDB != 6 || a1.Dwell != 5 {
		t.Errorf("rack-A01: %+v", a1)
	}
	for _, z := range d.Zones {
		if z.Zone == "rack-A02" {
			t.Errorf("reads under min_rssi made rack-A02 a zone of the tag: %+v", z)
		}
	}
	if !strings.HasPrefix(d.Decision, "stays in rack-A01: it is the strongest rack") {
		t.Errorf("decision %q", d.Decision)
	}

	// A02 3 dB stronger: short of its hysteresis_db 6.
	feed(10*time.Second, 16*time.Second, -50, -47)
	d = snap()
	a1, a2 := zoneOf(d, "rack-A01"), zoneOf(d, "rack-A02")
	if d.Zone != "rack-A01" || d.Candidate != "" || a2.Role != RoleWeaker {
		t.Fatalf("A02 3 dB stronger: zone %q cand %q role %q", d.Zone, d.Candidate, a2.Role)
	}
	want := math.Round((a2.RSSI-(a1.RSSI+6))*10) / 10
	if a2.MarginDB != want || a2.MarginDB > -2 || a2.MarginDB < -4 {
		t.Errorf("A02 margin %.1f, want %.1f (about -3)", a2.MarginDB, want)
	}
	if !strings.Contains(a2.Explain, "needs ") || !strings.Contains(a2.Explain, "hysteresis_db 6.0") {
		t.Errorf("A02 explain %q", a2.Explain)
	}
	if !strings.Contains(d.Decision, "rack-A02 is ") || !strings.Contains(d.Decision, "needs 6.0 dB (hysteresis_db)") {
		t.Errorf("decision %q", d.Decision)
	}

	// A02 10 dB stronger: the candidate, with the dwell deadline.
	feed(16*time.Second, 18*time.Second, -50, -40)
	d = snap()
	a2 = zoneOf(d, "rack-A02")
	if d.Candidate != "rack-A02" || a2.Role != RoleCandidate || a2.MarginDB <= 0 {
		t.Fatalf("A02 10 dB stronger: cand %q role %q margin %.1f", d.Candidate, a2.Role, a2.MarginDB)
	}
	if got := d.DwellUntil.Sub(d.CandidateSince); got != dwell {
		t.Errorf("dwell_until - candidate_since = %s, want A02's dwell %s", got, dwell)
	}
	if !d.DwellUntil.After(now) || !strings.HasPrefix(d.Decision, "moving to rack-A02") {
		t.Errorf("dwell until %s (now %s), decision %q", d.DwellUntil, now, d.Decision)
	}
	// ...and after the dwell it settles there.
	feed(18*time.Second, 24*time.Second, -50, -40)
	if d = snap(); d.Zone != "rack-A02" || zoneOf(d, "rack-A02").Role != RoleSettled || zoneOf(d, "rack-A01").Role != RoleWeaker {
		t.Errorf("after the dwell: zone %q, zones %+v", d.Zone, d.Zones)
	}
}
