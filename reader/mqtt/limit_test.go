package mqtt_test

import (
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/mqtt"
)

// Reader ids learned from topics are bounded: 50 more topics than
// MaxLearnedReaders give reads of MaxLearnedReaders ids only; the rest are
// dropped and counted under the entry's own id. It used to grow without end
// (50,000 topics: +100 MB RSS, 50,001 metric series).
func TestLearnedReadersBounded(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	cfg := reader.Config{ID: "lim", Settings: &mqtt.Settings{Broker: b.URL, Topic: "lim/+/events",
		ReaderFromTopic: 2, Format: mqtt.FormatImpinj}}
	sink := newCollector()
	runSource(t, newSource(t, cfg), sink)
	dropped := testMetrics.ReadsIgnoredTotal.WithLabelValues("lim", mqtt.ReasonTooManyReaders)
	before := counterValue(t, dropped)

	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL).SetClientID("lim-pub"))
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	n := mqtt.MaxLearnedReaders + 50
	time.Sleep(500 * time.Millisecond) // the source subscribed (QoS 1 after that is kept)
	for i := range n {
		tok := c.Publish(fmt.Sprintf("lim/r%d/events", i), 1, false, `{"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"0102"}}`)
		if !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for counterValue(t, dropped)-before < 50 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	ids := map[string]bool{}
	for _, r := range tagReads(sink.snapshot()) {
		ids[r.Reader] = true
	}
	if len(ids) != mqtt.MaxLearnedReaders {
		t.Errorf("reads of %d reader ids, want %d", len(ids), mqtt.MaxLearnedReaders)
	}
	if d := counterValue(t, dropped) - before; d != 50 {
		t.Errorf("%v reads counted as %s, want 50", d, mqtt.ReasonTooManyReaders)
	}
}
