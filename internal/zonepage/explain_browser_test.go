package zonepage

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/zonepage/zonepagetest"
)

// recordedModel is the fake model on a recorded clock, like a gateway
// playing a reads file.
type recordedModel struct {
	*fakeModel
	clock Clock
}

func (m recordedModel) Clock() Clock { return m.clock }

const (
	stayingEPC = "E2801160600002000000E001" // A02 stronger, short of hysteresis_db
	movingEPC2 = "E2801160600002000000E002" // A03 the candidate, dwell running
)

// explainModel: rack-A01..A04 with their settings, a tag that stays in
// rack-A01 although rack-A02 reads it 2.9 dB stronger (hysteresis_db 6),
// a tag waiting out its dwell for rack-A03, and reads under rack-A04's
// min_rssi. The detail comes from the server-side explanation (explain),
// fed with an engine-like TagView.
func explainModel(at time.Time) recordedModel {
	m := demoModel()
	st := edge.DefaultSettings()
	settings := map[string]*ZoneSettings{}
	for i := range m.zones {
		s := zoneSettingsOf(st)
		if m.zones[i].ID == "rack-A04" {
			s.MinRSSI = -65
		}
		m.zones[i].Settings = s
		settings[m.zones[i].ID] = s
	}
	m.readers[1].Antennas[3].Zones = []string{"rack-A04"}
	view := func(epc, rack, cand string, candSince time.Time, zs ...edge.ZoneView) TagDetail {
		v := edge.TagView{EPC: epc, Rack: rack, Candidate: cand, CandidateSince: candSince, LastSeen: at.Add(-time.Second), Zones: zs}
		d := TagDetailOf(v)
		explain(&d, settings)
		d.At = at
		return d
	}
	d := view(stayingEPC, "rack-A01", "", time.Time{},
		edge.ZoneView{Zone: "rack-A01", Present: true, Reads: 30, SmoothedRSSI: -54.7, PeakRSSI: -51},
		edge.ZoneView{Zone: "rack-A02", Present: true, Reads: 28, SmoothedRSSI: -51.8, PeakRSSI: -49},
		edge.ZoneView{Zone: "rack-A04", Present: false, Reads: 1, SmoothedRSSI: -64, PeakRSSI: -64})
	weak := 0
	for i := 60; i > 0; i-- {
		t := at.Add(-time.Duration(i) * time.Second)
		d.Reads = append(d.Reads,
			TagRead{Time: t, Reader: "rack-row-a", Antenna: 1, RSSI: -55 + float64(i%3)},
			TagRead{Time: t, Reader: "rack-row-a", Antenna: 2, RSSI: -52 + float64(i%2)})
		if i%5 == 0 { // rack-A04's antenna: under its min_rssi -65 but for one
			rssi := -70.0
			if i == 5 {
				rssi = -64
			} else {
				weak++
			}
			d.Reads = append(d.Reads, TagRead{Time: t, Reader: "rack-row-a", Antenna: 4, RSSI: rssi})
		}
	}
	m.tags[stayingEPC] = d
	m.zones[1].Tags = append(m.zones[1].Tags, ZoneTag{EPC: stayingEPC, RSSI: -54.7, Reads: 30, Settled: true})
	m.zones[2].Tags = append(m.zones[2].Tags, ZoneTag{EPC: stayingEPC, RSSI: -51.8, Reads: 28})

	m.tags[movingEPC2] = view(movingEPC2, "rack-A01", "rack-A03", at.Add(-3*time.Second),
		edge.ZoneView{Zone: "rack-A01", Present: true, Reads: 20, SmoothedRSSI: -60, PeakRSSI: -58},
		edge.ZoneView{Zone: "rack-A03", Present: true, Reads: 15, SmoothedRSSI: -50, PeakRSSI: -48})
	m.zones[3].Tags = append(m.zones[3].Tags, ZoneTag{EPC: movingEPC2, RSSI: -50, Reads: 15})
	weakReads = weak
	return recordedModel{fakeModel: m, clock: Clock{Now: at, Recorded: true}}
}

var weakReads int

// TestBrowserExplainsTag: the zone page explains a tag's rack decision
// (per zone its role, smoothed RSSI and the margin still needed for
// hysteresis_db; the candidate's dwell countdown), draws the plot per
// zone with the min_rssi line and reads under it hollow, shows one clock
// with date and time zone saying it is recorded time, and keeps every card
// inside its column at 1280, 1400 and 1920 px (screenshots at 1280 and 1920).
func TestBrowserExplainsTag(t *testing.T) {
	b := zonepagetest.StartShared(t)
	at := time.Date(2026, 11, 20, 12, 2, 29, 0, time.UTC)
	m := explainModel(at)
	opts := quietOpts()
	opts.Interval = 200 * time.Millisecond
	done := make(chan struct{})
	opts.Done = done
	srv := httptest.NewServer(Handler(m, opts))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	const wait = 10 * time.Second
	must := func(err error) {
		t.Helper()
		if err != nil {
			b.Screenshot("explain-failure.png")
			t.Fatalf("%v\nconsole errors: %v", err, b.Errors())
		}
	}
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	must(b.WaitVisible(`#live[data-state="open"]`, wait))

	// One clock: date, time and zone, on the recorded time.
	must(b.WaitTrue(`document.getElementById("clock").dataset.recorded === "true"`, wait))
	clock, _ := b.Text("#clock")
	if !regexp.MustCompile(`^2026-11-20 \d\d:\d\d:\d\d \S+`).MatchString(clock) {
		t.Errorf("clock = %q, want the recorded date, time and a time zone", clock)
	}
	note, _ := b.Text("#clock-note")
	if !strings.Contains(note, "recorded time") {
		t.Errorf("clock note = %q, want it to say the time is recorded", note)
	}
	if th, _ := b.Text("#events-time-h"); !strings.HasPrefix(th, "time (") {
		t.Errorf("events time header %q does not name the time zone", th)
	}
	// Zone cards say their settings.
	must(b.WaitTrue(`(document.querySelector('#zones [data-zone="rack-A02"] .settings')||{}).textContent === "min_rssi -75 dBm · min_reads 2 · hysteresis 6 dB · dwell 5 s · lost_after 60 s"`, wait))

	// The tag that stays: why, in numbers.
	must(b.Click(`#zones [data-zone="rack-A01"] tr[data-epc="` + stayingEPC + `"] button`))
	must(b.WaitVisible(`#tag-zones tr[data-zone="rack-A02"][data-role="weaker"]`, wait))
	dec, _ := b.Text("#tag-decision")
	if dec != "stays in rack-A01: rack-A02 is 2.9 dB stronger but needs 6.0 dB (hysteresis_db)" {
		t.Errorf("decision = %q", dec)
	}
	row, _ := b.Text(`#tag-zones tr[data-zone="rack-A02"]`)
	for _, want := range []string{"weaker", "yes (28/2)", "-51.8", "needs 3.1 dB"} {
		if !strings.Contains(row, want) {
			t.Errorf("rack-A02 row %q lacks %q", row, want)
		}
	}
	if row, _ := b.Text(`#tag-zones tr[data-zone="rack-A04"]`); !strings.Contains(row, "not present") || !strings.Contains(row, "no (1/2)") {
		t.Errorf("rack-A04 row = %q", row)
	}
	// The plot: legend in zone names, the min_rssi lines, weak reads hollow.
	legend, _ := zonepagetest.Eval[[]string](b, `Array.from(document.querySelectorAll(".legend [data-series]")).map(e => e.textContent)`)
	if len(legend) != 3 || !strings.HasPrefix(legend[0], "rack-A01 (rack-row-a #1): ") || !strings.HasPrefix(legend[1], "rack-A02 (rack-row-a #2): ") ||
		!strings.HasPrefix(legend[2], "rack-A04 (rack-row-a #4): ") || !strings.Contains(legend[2], fmt.Sprintf("%d under min_rssi", weakReads)) {
		t.Errorf("legend = %q", legend)
	}
	for _, m := range []string{"-75", "-65"} {
		must(b.WaitVisible(`#tag-plot line[data-min-rssi="`+m+`"]`, wait))
	}
	if n, err := zonepagetest.Eval[int](b, `document.querySelectorAll('#tag-plot circle[data-weak="true"]').length`); err != nil || n != weakReads {
		t.Errorf("%d hollow (weak) points, want %d (%v)", n, weakReads, err)
	}
	must(b.WaitVisible(`#weak-note`, wait))

	// The tag waiting out its dwell: the countdown on the recorded clock.
	must(b.Click(`#zones [data-zone="rack-A03"] tr[data-epc="` + movingEPC2 + `"] button`))
	must(b.WaitVisible(`#tag-panel[data-candidate="rack-A03"]`, wait))
	cand, _ := b.Text("#tag-candidate")
	if !strings.Contains(cand, "settles in 2.0 s (dwell 5.0 s)") {
		t.Errorf("candidate = %q, want the dwell countdown", cand)
	}
	if row, _ := b.Text(`#tag-zones tr[data-zone="rack-A03"]`); !strings.Contains(row, "candidate") || !strings.Contains(row, "+4.0 dB") {
		t.Errorf("rack-A03 row = %q", row)
	}

	// Layout: nothing overflows or overlaps at laptop and desktop widths,
	// with the tag panel open (the narrowest zone column) and closed.
	must(b.Click(`#zones [data-zone="rack-A01"] tr[data-epc="` + stayingEPC + `"] button`))
	must(b.WaitVisible(`#tag-zones tr[data-zone="rack-A02"]`, wait))
	for _, w := range []int{1280, 1400, 1920} {
		if err := chromedp.Do(b.Context(), chromedp.EmulateViewport(int64(w), 1000)); err != nil {
			t.Fatal(err)
		}
		for _, open := range []bool{true, false} {
			if !open {
				must(b.Click("#tag-close"))
				must(b.WaitTrue(`document.getElementById("tag-panel").hidden`, wait))
			}
			problems, err := zonepagetest.Eval[[]string](b, layoutProblems)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("%d px, tag panel open %v: %s", w, open, p)
			}
			if open && w == 1280 && os.Getenv("RFIDGW_UPDATE_DOCS") != "" {
				// The docs' picture (docs/zone-page.md) is this state of the page.
				png, err := zonepagetest.Screenshot(b)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join("..", "..", "docs", "zone-page.png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if open && (w == 1280 || w == 1920) {
				if p, err := b.Screenshot(fmt.Sprintf("explain-%d.png", w)); err != nil {
					t.Error(err)
				} else {
					t.Logf("screenshot: %s", p)
				}
			}
		}
		must(b.Click(`#zones [data-zone="rack-A01"] tr[data-epc="` + stayingEPC + `"] button`))
		must(b.WaitVisible(`#tag-zones tr[data-zone="rack-A02"]`, wait))
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("console errors: %s", strings.Join(errs, "\n"))
	}
}

// layoutProblems lists what overflows: the page wider than the window,
// an element wider than its box, zone cards overlapping or leaving the
// zones panel, panels overlapping.
const layoutProblems = `(() => {
  const out = [];
  const de = document.documentElement;
  if (de.scrollWidth > window.innerWidth + 1) out.push("page is " + de.scrollWidth + " px wide in a " + window.innerWidth + " px window");
  const r = (e) => e.getBoundingClientRect();
  const over = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const cards = Array.from(document.querySelectorAll("#zones .zone")).filter((e) => e.offsetParent !== null);
  const panel = r(document.getElementById("zones-panel"));
  for (const c of cards) {
    if (c.scrollWidth > c.clientWidth + 1) out.push(c.dataset.zone + ": content " + c.scrollWidth + " px in a " + c.clientWidth + " px card");
    const cr = r(c);
    if (cr.right > panel.right + 1 || cr.left < panel.left - 1) out.push(c.dataset.zone + " leaves the zones panel");
  }
  for (let i = 0; i < cards.length; i++) for (let j = i + 1; j < cards.length; j++)
    if (over(r(cards[i]), r(cards[j]))) out.push(cards[i].dataset.zone + " overlaps " + cards[j].dataset.zone);
  const boxes = ["readers-panel", "zones-panel", "tag-panel", "tag-detail", "events-panel"].map((id) => document.getElementById(id)).filter((e) => e && e.offsetParent !== null);
  for (const p of boxes) if (p.scrollWidth > p.clientWidth + 1) out.push(p.id + ": content " + p.scrollWidth + " px in " + p.clientWidth + " px");
  const panels = boxes.filter((e) => e.id !== "tag-detail");
  for (let i = 0; i < panels.length; i++) for (let j = i + 1; j < panels.length; j++)
    if (over(r(panels[i]), r(panels[j]))) out.push(panels[i].id + " overlaps " + panels[j].id);
  return out;
})()`
