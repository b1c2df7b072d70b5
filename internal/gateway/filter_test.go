package gateway

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/reader"
)

func filteredCount(gw *Gateway, rdr string) float64 {
	var m dto.Metric
	_ = gw.Metrics().ReadsIgnoredTotal.WithLabelValues(rdr, edge.ReasonFilter).Write(&m)
	return m.Counter.GetValue()
}

// Reads of foreign tags stop before the engine and are counted as
// reason="filter"; a reload brings new patterns in.
func TestFilterBeforeTheEngine(t *testing.T) {
	cfg := testConfig(t)
	cfg.Filter.Ignore = []string{"raw"}
	gw, err := New(cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.queue.Close()
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	before := filteredCount(gw, "r1")
	read := func(epc string) {
		r := reader.Read{Time: at, Reader: "r1", Antenna: 1, EPC: epc, RSSI: -50}
		gw.process(nil, &r)
	}
	read("E28011606000020D8F3A1B2C") // not a GS1 EPC: raw
	read("3474257BF400000000BC6038") // GIAI
	if got := filteredCount(gw, "r1") - before; got != 1 {
		t.Errorf("filtered %v reads, want 1", got)
	}
	if st := gw.engine.Stats(); st.Reads != 1 || st.Tags != 1 {
		t.Errorf("engine saw %d reads of %d tags, want 1 of 1", st.Reads, st.Tags)
	}
	// The zone page's reader card says so too, with the gateway filter.
	found := false
	for _, v := range (pageModel{gw}).Readers() {
		if v.ID == "r1" {
			found = true
			if v.Filtered != 1 || v.Filter != "ignore raw" {
				t.Errorf("reader view %+v, want 1 filtered read and the filter", v)
			}
		}
	}
	if !found {
		t.Error("no reader view for r1")
	}
	// Reload: now the zone also ignores GIAIs of 0614141.
	dir := t.TempDir()
	p := filepath.Join(dir, "gw.yaml")
	os.WriteFile(p, []byte(`gateway: {id: unit, data_dir: `+dir+`}
readers: [{id: f, type: file, path: `+filepath.Join(dir, "r.jsonl")+`, provides: [r1], speed: 0}]
zones: [{id: rack-1, kind: rack, antennas: [{reader: r1, antennas: [1]}], ignore: ["urn:epc:id:giai:0614141.*"]}]
uplink: {kafka: {brokers: ["127.0.0.1:9"]}}
`), 0o644)
	ncfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.applyReload(ncfg); err != nil {
		t.Fatal(err)
	}
	read("3474257BF400000000BC6038")
	read("E28011606000020D8F3A1B2C") // no gateway filter any more
	if got := filteredCount(gw, "r1") - before; got != 2 {
		t.Errorf("after reload: filtered %v reads in all, want 2", got)
	}
}
