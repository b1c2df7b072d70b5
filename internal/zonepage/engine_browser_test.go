package zonepage

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/zonepage/zonepagetest"
	"github.com/rfidgw/rfidgw/reader"
)

// engineModel is a Model built the way the package doc proposes, on the
// real edge engine and the helpers: it is the reference for the gateway's
// and checks that the helpers and the page fit together.
type engineModel struct {
	readers []reader.Config
	zones   []edge.Zone
	stats   *ReadStats
	events  *EventLog
	reads   chan reader.Read
	snaps   chan chan *ZoneSnapshot

	mu     sync.Mutex
	online map[string]bool
	last   atomic.Pointer[ZoneSnapshot]
	seq    uint64
}

func newEngineModel(readers []reader.Config, zones []edge.Zone) *engineModel {
	return &engineModel{
		readers: readers, zones: zones,
		stats:  NewReadStats(ReadStatsOptions{}),
		events: NewEventLog(1000),
		reads:  make(chan reader.Read, 1024),
		snaps:  make(chan chan *ZoneSnapshot),
		online: map[string]bool{},
	}
}

// own is the engine's owner goroutine: the only one touching the engine.
func (m *engineModel) own(ctx context.Context, eng *edge.Engine) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	collector := NewZoneCollector(m.zones)
	commit := func(evs []edge.Event) {
		for i := range evs {
			m.seq++ // the buffer's job in the gateway
			evs[i].Seq, evs[i].Gateway = m.seq, "test"
		}
		m.events.Add(evs...)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-m.reads:
			if r.IsStatus() {
				m.mu.Lock()
				m.online[r.Reader] = r.Status == reader.StatusOnline
				m.mu.Unlock()
			}
			m.stats.Observe([]reader.Read{r})
			commit(eng.Process(nil, &r))
		case <-tick.C:
			commit(eng.Tick(nil, time.Now()))
		case reply := <-m.snaps:
			eng.Snapshot(time.Now(), collector.Add)
			reply <- collector.Collect()
		}
	}
}

func (m *engineModel) Readers() []ReaderView {
	m.mu.Lock()
	online := make(map[string]bool, len(m.online))
	for k, v := range m.online {
		online[k] = v
	}
	m.mu.Unlock()
	v := ReaderViews(m.readers, m.zones, online)
	m.stats.FillRates(time.Now(), v)
	return v
}

func (m *engineModel) Zones() []ZoneView {
	reply := make(chan *ZoneSnapshot, 1)
	m.snaps <- reply
	s := <-reply
	m.last.Store(s)
	return s.Zones()
}

func (m *engineModel) Tag(epc string) (TagDetail, bool) {
	s := m.last.Load()
	if s == nil {
		return TagDetail{}, false
	}
	d, ok := s.Tag(epc)
	if !ok {
		return d, false
	}
	now := time.Now()
	d.Reads, d.Events, d.At = m.stats.TagReads(now, epc), m.events.ForTag(epc, 20), now
	return d, true
}

func (m *engineModel) Events(limit int) []json.RawMessage { return m.events.Recent(limit) }
func (m *engineModel) Uplink() UplinkView                 { return UplinkView{KafkaConnected: true} }

// A tag moved between racks by real engine decisions shows up settled in
// its new rack, with the rack_move event, on the live page.
func TestBrowserWithRealEngine(t *testing.T) {
	b := zonepagetest.StartShared(t)
	readers := []reader.Config{{ID: "rack-row-a", Type: reader.TypeSerial, Antennas: []int{1, 2}}}
	zones := testZones()[1:3] // rack-A01 on antenna 1, rack-A02 on antenna 2
	settings := edge.DefaultSettings()
	settings.PresenceWindow, settings.Dwell = time.Second, time.Second
	eng, err := edge.New(edge.Config{Zones: zones, Settings: settings, Logger: quietOpts().Logger})
	if err != nil {
		t.Fatal(err)
	}
	m := newEngineModel(readers, zones)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { m.own(ctx, eng) })

	// The "reader": the tag sits at rack-A01 until moved, then at rack-A02.
	const epc = "E2801160600002000000C0DE"
	var moved atomic.Bool
	wg.Go(func() {
		m.reads <- reader.StatusRead(time.Now(), "rack-row-a", reader.StatusOnline)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			near, far := 1, 2
			if moved.Load() {
				near, far = 2, 1
			}
			now := time.Now().UTC()
			m.reads <- reader.Read{Time: now, Reader: "rack-row-a", Antenna: near, EPC: epc, RSSI: -48}
			m.reads <- reader.Read{Time: now, Reader: "rack-row-a", Antenna: far, EPC: epc, RSSI: -71}
		}
	})

	done := make(chan struct{})
	opts := quietOpts()
	opts.Done = done
	srv := httptest.NewServer(Handler(m, opts))
	t.Cleanup(func() { wg.Wait() })
	t.Cleanup(cancel)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })

	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			b.Screenshot("engine-failure.png")
			t.Fatalf("%v\nconsole errors: %v", err, b.Errors())
		}
	}
	const wait = 10 * time.Second
	must(b.WaitVisible(`[data-reader="rack-row-a"][data-connected="true"]`, wait))
	must(b.WaitTrue(`Number(document.querySelector('[data-reader="rack-row-a"] [data-antenna="1"] td:nth-child(2)').textContent) > 10`, wait))
	must(b.WaitVisible(`#zones [data-zone="rack-A01"] tr[data-epc="`+epc+`"][data-settled="true"]`, wait))
	must(b.WaitVisible(`#events tr[data-type="rack_move"][data-epc="`+epc+`"]`, wait))
	must(b.Click(`#zones [data-zone="rack-A01"] tr[data-epc="` + epc + `"] button`))
	must(b.WaitVisible(`#tag-panel[data-zone="rack-A01"]`, wait))

	moved.Store(true)
	must(b.WaitVisible(`#zones [data-zone="rack-A02"] tr[data-epc="`+epc+`"][data-settled="true"]`, wait))
	must(b.WaitTrue(`Array.from(document.querySelectorAll('#events tr[data-type="rack_move"]')).some(tr => tr.textContent.includes("rack-A01 → rack-A02"))`, wait))
	must(b.WaitVisible(`#tag-panel[data-zone="rack-A02"]`, wait))
	must(b.WaitTrue(`document.querySelectorAll('#tag-plot .legend [data-series], .legend [data-series]').length === 2`, wait))
	must(b.WaitTrue(`document.getElementById("tag-plot").dataset.span === "30"`, wait)) // seconds of reads: zoomed in
	if _, err := b.Screenshot("real-engine.png"); err != nil {
		t.Error(err)
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
