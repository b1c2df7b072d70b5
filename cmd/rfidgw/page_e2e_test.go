package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rfidgw/rfidgw/internal/testkit"
	"github.com/rfidgw/rfidgw/internal/zonepage/zonepagetest"
)

// TestZonePageAgainstTheDaemon: headless Chromium on the zone page of the
// real daemon, fed by `rfidgw sim` (a simulated LLRP reader and a ThingMagic
// module on a pty). The page shows both readers connected, a tag the
// scenario moves from rack-A01 to rack-A02 shows up in its new zone, and the
// EPC filter narrows the zones to the other tag.
func TestZonePageAgainstTheDaemon(t *testing.T) {
	if zonepagetest.ChromiumPath() == "" {
		t.Skip("chromium not installed (make test installs it as root: apt-get install -y chromium)")
	}
	bin, _ := testkit.Binaries(t)
	kafka := testkit.Kafka(t, 0)
	dir := t.TempDir()
	llrpAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	link := filepath.Join(dir, "ttyRackB")
	httpPort := testkit.FreePort(t)
	const moving, sitting = "E2801160600002000000AAA1", "E2801160600002000000BBB2"

	simFile := filepath.Join(dir, "sim.yaml")
	os.WriteFile(simFile, []byte(fmt.Sprintf(`readers:
  - {id: rack-row-a, kind: llrp, listen: "%s", antennas: 4}
  - {id: rack-row-b, kind: serial, protocol: thingmagic, link: "%s"}
start_delay: 2s
tags:
  - epc: %s
    steps:
      - {at: 0s, for: 12s, reader: rack-row-a, antenna: 1, rssi: -50, also: [{reader: rack-row-a, antenna: 2, rssi: -66, rate: 1.5}]}
      - {at: 12s, for: 120s, reader: rack-row-a, antenna: 2, rssi: -50, also: [{reader: rack-row-a, antenna: 1, rssi: -66, rate: 1.5}]}
  - epc: %s
    steps:
      - {at: 0s, for: 132s, reader: rack-row-b, antenna: 1, rssi: -52}
`, llrpAddr, link, moving, sitting)), 0o644)
	cfg := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`gateway: {id: page, data_dir: "%s"}
readers:
  - {id: rack-row-a, type: llrp, address: "%s", keepalive: 1s}
  - {id: rack-row-b, type: serial, device: "%s", protocol: thingmagic}
zones:
  - {id: rack-A01, kind: rack, floor: "3", row: A, rack: "01", antennas: [{reader: rack-row-a, antennas: [1]}]}
  - {id: rack-A02, kind: rack, floor: "3", row: A, rack: "02", antennas: [{reader: rack-row-a, antennas: [2]}]}
  - {id: rack-B01, kind: rack, floor: "3", row: B, rack: "01", antennas: [{reader: rack-row-b, antennas: [1]}]}
uplink: {kafka: {brokers: ["%s"]}}
http: {listen: "127.0.0.1:%d"}
`, filepath.Join(dir, "data"), llrpAddr, link, kafka.ListenAddrs()[0], httpPort)), 0o644)

	sim := testkit.Start(t, nil, bin, "sim", "--scenario", simFile, "--log-format", "text")
	testkit.WaitFor(t, 20*time.Second, "the simulated readers", func() bool {
		return strings.Count(sim.Output(), "sim reader ") == 2
	})
	gw := testkit.Start(t, nil, bin, "run", "--config", cfg, "--log-format", "text")

	b := zonepagetest.Start(t)
	wait := 30 * time.Second
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Logf("gateway output:\n%s", lastLines(gw.Output(), 40))
			if p, serr := b.Screenshot("zone-page-failure"); serr == nil {
				t.Logf("screenshot: %s", p)
			}
			t.Fatal(err)
		}
	}
	must(b.Navigate(fmt.Sprintf("http://127.0.0.1:%d/", httpPort)))
	must(b.WaitVisible(`[data-reader="rack-row-a"][data-connected="true"]`, wait))
	must(b.WaitVisible(`[data-reader="rack-row-b"][data-connected="true"]`, wait))
	// First the tag settles in A01, then the scenario moves it to A02.
	must(b.WaitVisible(`#zones [data-zone="rack-A01"] tr[data-epc="`+moving+`"][data-settled="true"]`, wait))
	must(b.WaitVisible(`#zones [data-zone="rack-A02"] tr[data-epc="`+moving+`"][data-settled="true"]`, wait))
	must(b.WaitVisible(`#zones [data-zone="rack-B01"] tr[data-epc="`+sitting+`"]`, wait))
	// 2 first placements + the move: seq 3, shown with the id Kafka carries
	// (<gateway>-<epoch>-<seq>).
	kafkaID := ""
	for _, e := range testkit.Consume(t, kafka.ListenAddrs()[0], "rfid.movements", 3, wait) {
		if e.Seq == 3 {
			kafkaID = e.ID
		}
	}
	if !regexp.MustCompile(`^page-[0-9a-f]+-3$`).MatchString(kafkaID) {
		t.Fatalf("event seq 3 in Kafka has id %q, want page-<epoch>-3", kafkaID)
	}
	must(b.WaitVisible(`#events tr[data-event-id="`+kafkaID+`"]`, wait))
	if p, err := b.Screenshot("zone-page-daemon"); err == nil {
		t.Logf("screenshot: %s", p)
	}
	// The page explains itself: one clock (wall time here, with date and
	// zone), the moved tag's decision, its zones' roles and the plot per zone.
	must(b.WaitTrue(`document.getElementById("clock").dataset.recorded === "false" && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+/.test(document.getElementById("clock").textContent)`, wait))
	must(b.Click(`#zones [data-zone="rack-A02"] tr[data-epc="` + moving + `"] button`))
	must(b.WaitTrue(`document.querySelector('#tag-zones tr[data-zone="rack-A02"][data-role="settled"]') && /^stays in rack-A02/.test(document.getElementById("tag-decision").textContent)`, wait))
	must(b.WaitTrue(`Array.from(document.querySelectorAll(".legend [data-series]")).map(e => e.dataset.zones).join(" ") === "rack-A01 rack-A02"`, wait))
	must(b.WaitVisible(`#tag-plot line[data-min-rssi="-75"]`, wait))
	for _, w := range []int64{1280, 1920} {
		if err := chromedp.Do(b.Context(), chromedp.EmulateViewport(w, 1000)); err != nil {
			t.Fatal(err)
		}
		if p, err := b.Screenshot(fmt.Sprintf("zone-page-daemon-%d", w)); err == nil {
			t.Logf("screenshot: %s", p)
		}
	}
	must(b.Click("#tag-close"))
	// The EPC filter keeps only the matching tag.
	must(b.Type(`#epc-filter`, "bbb2"))
	must(b.WaitTrue(`document.body.dataset.filter === "BBB2"`, wait))
	must(b.WaitTrue(`document.querySelectorAll("#zones tr[data-epc]").length === 1 && !!document.querySelector('#zones tr[data-epc="`+sitting+`"]')`, wait))
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("console errors: %s", strings.Join(errs, "\n"))
	}
	gw.Stop(t, 20*time.Second)
}
