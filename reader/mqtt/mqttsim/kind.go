package mqttsim

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// Settings are the keys of a `rfidgw sim` scenario reader of kind mqtt.
type Settings struct {
	Broker      string `mapstructure:"broker"`
	Topic       string `mapstructure:"topic"`
	Format      string `mapstructure:"format"`       // impinj | zebra
	StatusTopic string `mapstructure:"status_topic"` // where status reads of a reads file are published
}

func init() {
	reader.RegisterSim(reader.SimKind{
		Name:     reader.TypeMQTT,
		Settings: func() reader.SimSettings { return &Settings{} },
		Start:    start,
	})
}

// Validate checks the settings (keys relative to the scenario entry).
func (s *Settings) Validate() []error {
	var errs []error
	if s.Broker == "" {
		errs = append(errs, keyed.Errorf("broker", "required for an mqtt reader"))
	}
	if s.Topic == "" {
		errs = append(errs, keyed.Errorf("topic", "required for an mqtt reader"))
	}
	return errs
}

func start(_ context.Context, id string, set reader.SimSettings, log *slog.Logger) (reader.Emulator, string, error) {
	st := set.(*Settings)
	p, err := New(Options{
		Broker: st.Broker, Topic: st.Topic, StatusTopic: st.StatusTopic, Format: st.Format,
		ClientID: "rfidgw-sim-" + id, Log: log,
	})
	if err != nil {
		return nil, "", err
	}
	g := paho.NewClientOptions().AddBroker(strings.TrimSpace(st.Broker)).
		SetClientID("rfidgw-sim-" + id + "-garbage").SetAutoReconnect(true).SetMaxReconnectInterval(time.Second)
	gc := paho.NewClient(g)
	if tok := gc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		p.Close()
		return nil, "", fmt.Errorf("garbage publisher to %s: %v", st.Broker, tok.Error())
	}
	return withGarbage{p, gc, strings.ReplaceAll(st.Topic, "{reader}", id)}, st.Broker + " " + st.Topic, nil
}

// withGarbage is a publisher that also publishes malformed payloads on its
// topic from a second client.
type withGarbage struct {
	*Publisher
	garbage paho.Client
	topic   string
}

var garbagePayloads = []string{
	`{"timestamp":"2026-11-20T08:00:00Z","eventType":"tagInventory","tagInventoryEvent":{"epcHex":`,
	`{"timestamp":"not a time","eventType":"tagInventory","tagInventoryEvent":{"epcHex":"30ZZ","antennaPort":"x"}}`,
	`{}`, `[]`, `null`, `"tagInventory"`,
}

// WriteGarbage publishes one malformed payload.
func (m withGarbage) WriteGarbage(rng *rand.Rand) error {
	var b []byte
	if i := rng.Intn(len(garbagePayloads) + 1); i < len(garbagePayloads) {
		b = []byte(garbagePayloads[i])
	} else {
		b = make([]byte, 1+rng.Intn(64))
		rng.Read(b)
	}
	tok := m.garbage.Publish(m.topic, 1, false, b)
	tok.WaitTimeout(5 * time.Second)
	return tok.Error()
}

// Close closes both clients.
func (m withGarbage) Close() error {
	m.garbage.Disconnect(250)
	return m.Publisher.Close()
}
