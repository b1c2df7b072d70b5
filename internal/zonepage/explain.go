package zonepage

import (
	"fmt"
	"math"
	"time"

	"github.com/rfidgw/rfidgw/edge"
)

// This file says, per tag, why the engine keeps it where it is or moves it:
// the rule of edge/rack.go (settle) put in numbers and words. The candidate
// is the present rack with the strongest smoothed RSSI; while the settled
// rack is present too, it must beat it by the candidate's hysteresis_db;
// then it must stay the candidate for its dwell.

// ZoneSettings are one zone's effective edge settings (edge: with the
// zone's overrides), as the page shows them.
type ZoneSettings struct {
	MinRSSI        float64 `json:"min_rssi"`
	MinReads       int     `json:"min_reads"`
	PresenceWindow float64 `json:"presence_window_s"`
	Dwell          float64 `json:"dwell_s"`
	HysteresisDB   float64 `json:"hysteresis_db"`
	LostAfter      float64 `json:"lost_after_s"`
	GateWindow     float64 `json:"gate_window_s"`
}

func zoneSettingsOf(s edge.Settings) *ZoneSettings {
	return &ZoneSettings{
		MinRSSI: s.MinRSSI, MinReads: s.MinReads, PresenceWindow: s.PresenceWindow.Seconds(),
		Dwell: s.Dwell.Seconds(), HysteresisDB: s.HysteresisDB, LostAfter: s.LostAfter.Seconds(),
		GateWindow: s.GateWindow.Seconds(),
	}
}

// Roles of a rack zone in a tag's decision (TagZone.Role).
const (
	RoleSettled    = "settled"     // the tag's settled rack
	RoleCandidate  = "candidate"   // strong enough; waiting out its dwell
	RoleWeaker     = "weaker"      // present, but short of the margin
	RoleNotPresent = "not_present" // fewer than min_reads in presence_window
)

// explain fills the decision fields of d (from TagDetailOf) with the zones'
// settings.
func explain(d *TagDetail, settings map[string]*ZoneSettings) {
	var settled *TagZone
	for i := range d.Zones {
		z := &d.Zones[i]
		if z.Side != "" {
			continue
		}
		if s := settings[z.Zone]; s != nil {
			z.MinRSSI, z.MinReads, z.HysteresisDB, z.Dwell = s.MinRSSI, s.MinReads, s.HysteresisDB, s.Dwell
		}
		if z.Zone == d.Zone {
			settled = z
		}
	}
	// The rack that wins on RSSI among the present ones (as the engine).
	var best *TagZone
	for i := range d.Zones {
		z := &d.Zones[i]
		if z.Side == "" && z.Present && (best == nil || z.RSSI > best.RSSI) {
			best = z
		}
	}
	for i := range d.Zones {
		z := &d.Zones[i]
		if z.Side != "" {
			continue
		}
		switch {
		case z == settled:
			z.Role = RoleSettled
			if z.Present {
				z.Explain = fmt.Sprintf("settled here; smoothed %.1f dBm", z.RSSI)
			} else {
				z.Explain = "settled here; not present now (" + readsShort(z) + "): stays until lost_after without reads"
			}
		case !z.Present:
			z.Role = RoleNotPresent
			z.Explain = "not present: " + readsShort(z)
		case settled != nil && settled.Present:
			need := settled.RSSI + z.HysteresisDB
			z.MarginDB = round1(z.RSSI - need)
			switch {
			case z.Zone == d.Candidate:
				z.Role = RoleCandidate
				z.Explain = fmt.Sprintf("%.1f dB stronger than %s, beats its %.1f dBm + hysteresis_db %.1f", z.RSSI-settled.RSSI, settled.Zone, settled.RSSI, z.HysteresisDB)
			case z != best:
				z.Role = RoleWeaker
				z.Explain = fmt.Sprintf("weaker than %s (%.1f dBm)", best.Zone, best.RSSI)
			default:
				z.Role = RoleWeaker
				z.Explain = fmt.Sprintf("needs %.1f dB more: %.1f dBm vs %s's %.1f dBm + hysteresis_db %.1f", -z.MarginDB, z.RSSI, settled.Zone, settled.RSSI, z.HysteresisDB)
			}
		default: // no settled rack present: the strongest present rack is the candidate
			if z.Zone == d.Candidate {
				z.Role = RoleCandidate
				if settled == nil {
					z.Explain = "strongest present rack; no settled rack to beat"
				} else {
					z.Explain = fmt.Sprintf("strongest present rack; %s is not present, so no hysteresis_db to beat", settled.Zone)
				}
			} else {
				z.Role = RoleWeaker
				if best != nil && best != z {
					z.Explain = fmt.Sprintf("weaker than %s (%.1f dBm)", best.Zone, best.RSSI)
				} else {
					z.Explain = "strongest present rack"
				}
			}
		}
	}
	if d.Candidate != "" && !d.CandidateSince.IsZero() {
		if s := settings[d.Candidate]; s != nil {
			d.DwellUntil = d.CandidateSince.Add(time.Duration(s.Dwell * float64(time.Second)))
		}
	}
	d.Decision = decision(d, settled, best)
}

func readsShort(z *TagZone) string {
	if z.MinReads > 0 {
		return fmt.Sprintf("%d of min_reads %d reads in presence_window", z.Reads, z.MinReads)
	}
	return fmt.Sprintf("%d reads", z.Reads)
}

// decision is the one-line answer to "why is the tag where it is".
func decision(d *TagDetail, settled, best *TagZone) string {
	here := "in no rack"
	if d.Zone != "" {
		here = "in " + d.Zone
	}
	switch {
	case d.Candidate != "":
		return fmt.Sprintf("moving to %s once it stays the strongest for its dwell (until %s)", d.Candidate, d.DwellUntil.UTC().Format(time.RFC3339))
	case best == nil && settled == nil:
		return "in no rack: no rack reads it min_reads times within presence_window"
	case best == nil:
		return "stays " + here + ": no rack is present now"
	case settled != nil && best == settled:
		return "stays " + here + ": it is the strongest rack"
	case settled != nil && settled.Present:
		return fmt.Sprintf("stays %s: %s is %.1f dB stronger but needs %.1f dB (hysteresis_db)", here, best.Zone, best.RSSI-settled.RSSI, best.HysteresisDB)
	}
	return "stays " + here
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
