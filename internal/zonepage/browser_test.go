package zonepage

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/zonepage/zonepagetest"
)

const movingEPC = "E28011606000020D8F3A1B2C"

// demoModel dresses the fake model up like a small floor: a gate, four
// racks, three readers and some tags, so that the screenshot shows every
// panel. Reads of the moving tag are placed relative to now, so they land
// in the page's two-minute plot.
func demoModel() *fakeModel {
	m := newFakeModel()
	m.readers = []ReaderView{
		{ID: "dock-1", Type: "llrp", Connected: false, Antennas: []AntennaView{
			{Antenna: 1, Zones: []string{"gate-a/outside"}}, {Antenna: 2, Zones: []string{"gate-a/outside"}},
			{Antenna: 3, Zones: []string{"gate-a/inside"}}, {Antenna: 4, Zones: []string{"gate-a/inside"}}}},
		{ID: "rack-row-a", Type: "serial", Connected: true, ReadsPerSec: 23.5, Antennas: []AntennaView{
			{Antenna: 1, ReadsPerSec: 8, Zones: []string{"rack-A01"}}, {Antenna: 2, ReadsPerSec: 9.5, Zones: []string{"rack-A02"}},
			{Antenna: 3, ReadsPerSec: 4, Zones: []string{"rack-A03"}}, {Antenna: 4, ReadsPerSec: 2, Zones: []string{"rack-A04"}}}},
		{ID: "r700-2", Type: "mqtt", Connected: true, ReadsPerSec: 3.2, Antennas: []AntennaView{{Antenna: 1, ReadsPerSec: 3.2, Zones: []string{"gate-a/inside"}}}},
	}
	rack := func(n int, tags ...ZoneTag) ZoneView {
		return ZoneView{ID: fmt.Sprintf("rack-A%02d", n), Kind: "rack", Floor: "3", Room: "3.1", Row: "A", Rack: fmt.Sprintf("%02d", n), Tags: tags}
	}
	tag := func(suffix string, rssi float64, reads int, settled bool) ZoneTag {
		return ZoneTag{EPC: "E2801160600002000000" + suffix, RSSI: rssi, Reads: reads, Settled: settled}
	}
	m.zones = []ZoneView{
		{ID: "gate-a", Kind: "gate", Floor: "3", Tags: []ZoneTag{
			{EPC: "E280116060000200000051A7", RSSI: -58, Reads: 4, Side: "inside"}}},
		rack(1, ZoneTag{EPC: movingEPC, RSSI: -48.5, Reads: 9, Settled: true}, tag("BEEF", -61, 3, true), tag("0A11", -55.2, 6, true)),
		rack(2, tag("0B22", -52, 7, true), tag("0B23", -57.5, 5, true), tag("0A11", -69, 2, false)),
		rack(3, tag("0C31", -50.5, 8, true)),
		rack(4),
	}
	now := time.Now().UTC()
	d := m.tags[movingEPC]
	d.Reads = nil
	for i := 100; i > 0; i -= 2 {
		at := now.Add(-time.Duration(i) * time.Second)
		if i > 40 { // on rack-A01's antenna, then moved to rack-A02's
			d.Reads = append(d.Reads, TagRead{Time: at, Reader: "rack-row-a", Antenna: 1, RSSI: -49 + float64(i%5)})
			if i%6 == 0 {
				d.Reads = append(d.Reads, TagRead{Time: at, Reader: "rack-row-a", Antenna: 2, RSSI: -68 + float64(i%3)})
			}
		} else {
			d.Reads = append(d.Reads, TagRead{Time: at, Reader: "rack-row-a", Antenna: 2, RSSI: -51 + float64(i%4)})
			if i%8 == 0 {
				d.Reads = append(d.Reads, TagRead{Time: at, Reader: "rack-row-a", Antenna: 1, RSSI: -66 + float64(i%3)})
			}
		}
	}
	d.Zones = []TagZone{
		{Zone: "rack-A01", Present: true, Reads: 2, RSSI: -66.5, PeakRSSI: -45},
		{Zone: "rack-A02", Present: true, Reads: 11, RSSI: -50.2, PeakRSSI: -48},
	}
	d.LastSeen = now.Add(-2 * time.Second)
	m.tags[movingEPC] = d
	m.events = []json.RawMessage{
		json.RawMessage(eventJSON(1, "rack_move", movingEPC, "", "rack-A01")),
	}
	m.up = UplinkView{Pending: 2, Bytes: 1436, LagSeconds: 0.8, KafkaConnected: true, Delivered: 1289}
	return m
}

func TestBrowserLivePage(t *testing.T) {
	b := zonepagetest.StartShared(t)
	m := demoModel()
	opts := quietOpts()
	opts.Interval = 200 * time.Millisecond
	done := make(chan struct{})
	opts.Done = done
	srv := httptest.NewServer(Handler(m, opts))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // first: srv.Close waits for the page's stream
	const wait = 5 * time.Second

	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			b.Screenshot("failure.png")
			t.Fatalf("%v\nconsole errors: %v", err, b.Errors())
		}
	}
	must(b.WaitVisible(`[data-reader="rack-row-a"][data-connected="true"]`, wait))
	must(b.WaitVisible(`[data-reader="dock-1"][data-connected="false"]`, wait))
	must(b.WaitVisible(`#zones [data-zone="rack-A01"] tr[data-epc="`+movingEPC+`"]`, wait))
	must(b.WaitVisible(`#uplink[data-kafka-connected="true"]`, wait))
	must(b.WaitVisible(`#events tr[data-event-id="floor3-1"]`, wait))
	must(b.WaitVisible(`#live[data-state="open"]`, wait))

	// Live, without reload: the reader connects and the tag moves.
	if err := b.WaitTrue(`(window.__marker = 1)`, wait); err != nil { // a reload would lose it
		t.Fatal(err)
	}
	m.setConnected("dock-1", true)
	m.moveTag(movingEPC, "rack-A01", "rack-A02", 2)
	must(b.WaitVisible(`[data-reader="dock-1"][data-connected="true"]`, wait))
	must(b.WaitVisible(`#zones [data-zone="rack-A02"] tr[data-epc="`+movingEPC+`"][data-settled="true"]`, wait))
	must(b.WaitGone(`#zones [data-zone="rack-A01"] tr[data-epc="`+movingEPC+`"]`, wait))
	must(b.WaitVisible(`#events tbody tr:first-child[data-event-id="floor3-2"]`, wait))
	if ok, err := zonepagetest.Eval[bool](b, `window.__marker === 1`); err != nil || !ok {
		t.Errorf("the page reloaded (marker gone): %v %v", ok, err)
	}

	// One tag: its settled zone, per-zone weighing, plot and events.
	must(b.Click(`#zones [data-zone="rack-A02"] tr[data-epc="` + movingEPC + `"] button`))
	must(b.WaitVisible(`#tag-panel[data-epc="`+movingEPC+`"][data-zone="rack-A02"]`, wait))
	must(b.WaitVisible(`#tag-plot[data-span="120"]`, wait)) // 100 s of reads: the full two minutes
	points, err := zonepagetest.Eval[int](b, `document.querySelectorAll("#tag-plot circle").length`)
	if err != nil || points != len(m.tags[movingEPC].Reads) {
		t.Errorf("plot has %d points, want %d (%v)", points, len(m.tags[movingEPC].Reads), err)
	}
	series, _ := zonepagetest.Eval[[]string](b, `Array.from(document.querySelectorAll(".legend [data-series]")).map(e => e.dataset.series)`)
	if len(series) != 2 || series[0] != "rack-row-a #1" || series[1] != "rack-row-a #2" {
		t.Errorf("plot series = %v", series)
	}
	must(b.WaitVisible(`#tag-zones tr[data-zone="rack-A01"]`, wait))
	must(b.WaitVisible(`#tag-events tr[data-event-id="floor3-2"]`, wait))
	if _, err := b.Screenshot("zone-page.png"); err != nil {
		t.Error(err)
	}

	// The EPC filter, applied by the server: only matching tags, and zones
	// without a match are hidden.
	must(b.Type(`#epc-filter`, "beef"))
	must(b.WaitTrue(`document.body.dataset.filter === "BEEF"`, wait))
	must(b.WaitVisible(`#zones [data-zone="rack-A01"] tr[data-epc="E2801160600002000000BEEF"]`, wait))
	n, err := zonepagetest.Eval[int](b, `document.querySelectorAll("#zones tr[data-epc]").length`)
	if err != nil || n != 1 {
		t.Errorf("with the filter %d tag rows are shown, want 1 (%v)", n, err)
	}
	if vis, _ := zonepagetest.Eval[bool](b, `document.querySelector('#zones [data-zone="rack-A02"]').offsetParent !== null`); vis {
		t.Errorf("rack-A02 has no match but is still shown")
	}
	must(b.Type(`#epc-filter`, "nothex!"))
	must(b.WaitVisible(`#filter-error`, wait))
	must(b.Type(`#epc-filter`, ""))
	must(b.WaitTrue(`document.body.dataset.filter === "" && document.querySelectorAll("#zones tr[data-epc]").length === 8`, wait))

	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("console errors: %s", strings.Join(errs, "\n"))
	}
}

// Ids and EPCs from the model are untrusted: they must show as text.
func TestBrowserEscapesModelText(t *testing.T) {
	b := zonepagetest.StartShared(t)
	m := newFakeModel()
	const evil = `<img src=x onerror="window.__xss=1">`
	m.readers[0].ID = evil
	m.zones[0].ID = `"><svg onload="window.__xss=2">`
	m.zones[0].Tags = []ZoneTag{{EPC: `<script>window.__xss=3</script>`, RSSI: -50, Reads: 2}}
	m.events = append(m.events, json.RawMessage(`{"id":"<b onmouseover=window.__xss=4>","type":"<i>x</i>","epc":"<img src=y onerror=window.__xss=5>","time":"2026-11-25T10:00:00.000Z","zone":"<u>z</u>"}`))
	done := make(chan struct{})
	opts := quietOpts()
	opts.Done = done
	srv := httptest.NewServer(Handler(m, opts))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // first: srv.Close waits for the page's stream
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitTrue(`document.querySelectorAll("#events tbody tr").length === 2`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.Click(`#zones .tag-link`); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitVisible(`#tag-panel`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let any injected handler run (it must not exist)
	got, err := zonepagetest.Eval[map[string]any](b, `({xss: window.__xss === undefined ? null : window.__xss,
		imgs: document.querySelectorAll("#readers img, #zones img, #events img, #zones svg").length,
		reader: document.querySelector("#readers .reader .id").textContent})`)
	if err != nil {
		t.Fatal(err)
	}
	if got["xss"] != nil || got["imgs"] != 0.0 || got["reader"] != evil {
		t.Errorf("model text was interpreted as HTML: %v", got)
	}
	if shot, err := b.Screenshot("escaping.png"); err != nil {
		t.Error(err)
	} else {
		t.Logf("escaping screenshot: %s", shot)
	}
}

// Behind the gateway's token check (every path needs ?token= or a bearer
// header; a browser can only send the query), the page passes the token it
// was opened with to its assets, its stream and its tag lookups.
func TestBrowserWithToken(t *testing.T) {
	b := zonepagetest.StartShared(t)
	const token = "s3cret+/="
	done := make(chan struct{})
	opts := quietOpts()
	opts.Done = done
	h := Handler(newFakeModel(), opts)
	var mu sync.Mutex
	var refused []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != token {
			mu.Lock()
			refused = append(refused, r.URL.String())
			mu.Unlock()
			http.Error(w, "token required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	if err := b.Navigate(srv.URL + "/?token=" + url.QueryEscape(token)); err != nil {
		t.Fatal(err)
	}
	for _, sel := range []string{`#live[data-state="open"]`, `[data-reader="rack-row-a"][data-connected="true"]`} {
		if err := b.WaitVisible(sel, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Click(`#zones tr[data-epc="` + movingEPC + `"] button`); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitVisible(`#tag-panel[data-zone="rack-A01"]`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// The stylesheet came through too: its grid is in force.
	if disp, err := zonepagetest.Eval[string](b, `getComputedStyle(document.querySelector("main")).display`); err != nil || disp != "grid" {
		t.Errorf("main is %q (%v): the stylesheet did not load", disp, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refused) > 0 {
		t.Errorf("requests without the token: %v", refused)
	}
}

// With 10,000 tags the page shows the capped strongest ones with "+N more"
// counts, and the filter still finds a tag that the cap hides.
func TestBrowser10000Tags(t *testing.T) {
	b := zonepagetest.StartShared(t)
	m := newFakeModel()
	m.zones = manyTags(10_000, 40)
	done := make(chan struct{})
	opts := quietOpts()
	opts.Done = done
	srv := httptest.NewServer(Handler(m, opts))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	start := time.Now()
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitVisible(`#zones [data-zone="rack-B01"] .more`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000 tags: first render after %v (informational)", time.Since(start).Round(time.Millisecond))
	rows, err := zonepagetest.Eval[int](b, `document.querySelectorAll("#zones tr[data-epc]").length`)
	if err != nil || rows != 600 {
		t.Errorf("%d tag rows shown, want 600 (the cap) (%v)", rows, err)
	}
	if txt, _ := b.Text(`#zones-summary`); !strings.Contains(txt, "10000 tags") || !strings.Contains(txt, "showing 600") {
		t.Errorf("summary = %q", txt)
	}
	// Tag 9,999 is in rack-B40, which the 600-tag budget never reaches.
	weak := fmt.Sprintf("E280116060000200%08X", 9_999)
	if n, _ := zonepagetest.Eval[int](b, `document.querySelectorAll('#zones tr[data-epc="`+weak+`"]').length`); n != 0 {
		t.Fatalf("tag %s is shown without a filter; the test assumes the cap hides it", weak)
	}
	if err := b.Type(`#epc-filter`, weak[len(weak)-8:]); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitVisible(`#zones [data-zone="rack-B40"] tr[data-epc="`+weak+`"]`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if rows, _ := zonepagetest.Eval[int](b, `document.querySelectorAll("#zones .zone:not(.hidden)").length`); rows != 1 {
		t.Errorf("%d zones shown with the filter, want 1", rows)
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
