package mqtt_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/mqtt"
	"github.com/rfidgw/rfidgw/reader/mqtt/mqttsim"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestReaderClockCorrected: through Mosquitto, a Zebra reader whose clock
// is at 2000-01-01 and an Impinj reader 90 s ahead have their reads put at
// gateway time, one warning each, and rfidgw_reader_clock_offset_seconds
// per reader; a reader with a good clock keeps its own times exactly.
func TestReaderClockCorrected(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	y2k := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		format string
		off    func(time.Time) time.Duration // reader clock minus gateway
	}{
		{mqtt.FormatZebra, func(now time.Time) time.Duration { return y2k.Sub(now) }},
		{mqtt.FormatImpinj, func(time.Time) time.Duration { return 90 * time.Second }},
		{mqtt.FormatImpinj + "-good", func(time.Time) time.Duration { return 0 }},
	} {
		t.Run(c.format, func(t *testing.T) {
			format := strings.TrimSuffix(c.format, "-good")
			id := "clk-" + c.format
			logs := &syncBuf{}
			sink := newCollector()
			src, err := mqtt.New(reader.Config{ID: id, Type: reader.TypeMQTT, Settings: &mqtt.Settings{Broker: b.URL,
				Topic: "clk/" + c.format + "/events", Format: format}},
				reader.Env{Log: slog.New(slog.NewTextHandler(logs, nil)), Metrics: testMetrics.Readers()})
			if err != nil {
				t.Fatal(err)
			}
			runSource(t, src, sink)
			sink.waitFor(t, "online", func(rs []reader.Read) bool { return len(statuses(rs, id)) > 0 })
			pub, err := mqttsim.New(mqttsim.Options{Broker: b.URL, Topic: "clk/" + c.format + "/events", Format: format, ClientID: "sim-" + id})
			if err != nil {
				t.Fatal(err)
			}
			var fed []time.Time
			for i := 0; i < 3; i++ {
				now := time.Now().UTC().Truncate(time.Millisecond)
				fed = append(fed, now)
				pub.Feed(reader.Read{Time: now.Add(c.off(now)), Reader: id, Antenna: 1, EPC: "E2801160600000000000000" + string(rune('1'+i)), RSSI: -50})
				time.Sleep(20 * time.Millisecond)
			}
			pub.Close()
			got := tagReads(sink.waitFor(t, "3 reads", nTags(3)))
			for i, r := range got {
				if d := r.Time.Sub(fed[i]); d < -time.Second || d > 2*time.Second {
					t.Errorf("read %d at %v, fed at gateway time %v (reader clock %+v)", i, r.Time, fed[i], c.off(fed[i]))
				}
				if c.off(fed[i]) == 0 && !r.Time.Equal(fed[i]) {
					t.Errorf("good clock: read %d at %v, want exactly %v", i, r.Time, fed[i])
				}
			}
			wantWarn := 1
			if c.off(fed[0]) == 0 {
				wantWarn = 0
			}
			if n := strings.Count(logs.String(), "reader clock is off"); n != wantWarn {
				t.Errorf("%d clock warnings, want %d:\n%s", n, wantWarn, logs.String())
			}
			off := counterValue(t, testMetrics.ReaderClockOffset.WithLabelValues(id))
			if want := c.off(fed[0]).Seconds(); off < want-2 || off > want+1 {
				t.Errorf("rfidgw_reader_clock_offset_seconds = %v, want about %v", off, want)
			}
		})
	}
}
