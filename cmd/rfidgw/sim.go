package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/internal/sim"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/llrp"
	"github.com/rfidgw/rfidgw/reader/mqtt"
	"github.com/rfidgw/rfidgw/reader/serial"
)

func simCmd() *cobra.Command {
	var path string
	var hold bool
	cmd := &cobra.Command{
		Use:   "sim --scenario FILE",
		Short: "simulated readers (LLRP on a TCP port, serial on a pty, MQTT publisher) playing a scenario",
		Long: `Sim starts the simulated readers a scenario names and plays its reads on them:
an LLRP reader listening on a loopback port, a ThingMagic/R2000/ASCII module on a
pseudo-terminal (with an optional symlink such as a /dev/serial/by-id path), and
an MQTT publisher in Impinj or Zebra format. Point a gateway config at them and
run the gateway. The scenario format is described in docs/sim.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return usageErr(fmt.Errorf("--scenario is required"))
			}
			sc, err := sim.Load(path)
			if err != nil {
				return usageErr(err)
			}
			log := newLogger(cmd, "", "")
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			emus := map[string]reader.Emulator{}
			defer func() {
				for _, e := range emus {
					e.Close()
				}
			}()
			for _, r := range sc.Readers {
				em, where, err := newEmulator(ctx, r, log)
				if err != nil {
					return fmt.Errorf("sim reader %s: %w", r.ID, err)
				}
				emus[r.ID] = em
				fmt.Fprintf(cmd.OutOrStdout(), "sim reader %s (%s) at %s\n", r.ID, r.Kind, where)
				log.Info("simulated reader ready", "reader", r.ID, "kind", r.Kind, "at", where)
			}
			n, err := sc.Play(ctx, emus)
			if err != nil {
				return err
			}
			log.Info("scenario played", "reads", n, "garbage", sc.GarbageSent())
			if hold {
				<-ctx.Done()
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "scenario", "", "scenario file (YAML)")
	cmd.Flags().BoolVar(&hold, "hold", true, "keep the simulated readers up after the scenario ended, until Ctrl-C")
	return cmd
}

// newEmulator starts the simulated reader of one scenario entry and says
// where the gateway finds it.
func newEmulator(ctx context.Context, r sim.Reader, log *slog.Logger) (reader.Emulator, string, error) {
	log = log.With("sim_reader", r.ID)
	switch r.Kind {
	case sim.KindLLRP:
		s := llrp.NewSimulator(llrp.SimOptions{Antennas: r.Antennas, ImpinjPeakRSSI: true, Logger: log})
		addr, err := s.Listen(r.Listen)
		if err != nil {
			return nil, "", err
		}
		return llrpOutage{s}, addr.String(), nil
	case sim.KindSerial:
		s, err := serial.NewSimulator(r.Protocol, log)
		if err != nil {
			return nil, "", err
		}
		where := s.Path()
		if r.Link != "" {
			if err := os.MkdirAll(filepath.Dir(r.Link), 0o755); err != nil {
				s.Close()
				return nil, "", err
			}
			if err := s.Link(r.Link); err != nil {
				s.Close()
				return nil, "", err
			}
			where = r.Link + " -> " + where
		}
		return serialOutage{s}, where, nil
	case sim.KindMQTT:
		p, err := mqtt.NewPublisher(mqtt.PublisherOptions{
			Broker: r.Broker, Topic: r.Topic, StatusTopic: r.StatusTopic, Format: r.Format,
			ClientID: "rfidgw-sim-" + r.ID, Log: log,
		})
		if err != nil {
			return nil, "", err
		}
		g := paho.NewClientOptions().AddBroker(strings.TrimSpace(r.Broker)).
			SetClientID("rfidgw-sim-" + r.ID + "-garbage").SetAutoReconnect(true).SetMaxReconnectInterval(time.Second)
		gc := paho.NewClient(g)
		if tok := gc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			p.Close()
			return nil, "", fmt.Errorf("garbage publisher to %s: %v", r.Broker, tok.Error())
		}
		return mqttGarbage{p, gc, strings.ReplaceAll(r.Topic, "{reader}", r.ID)}, r.Broker + " " + r.Topic, nil
	}
	return nil, "", fmt.Errorf("kind %q is not llrp, serial or mqtt", r.Kind)
}

// llrpOutage makes a simulated LLRP reader drop its client and refuse new
// ones while "offline".
type llrpOutage struct{ *llrp.Simulator }

func (o llrpOutage) GoOffline()      { o.SetRefuse(true); o.DropConnections() }
func (o llrpOutage) GoOnline() error { o.SetRefuse(false); return nil }

// serialOutage unplugs and replugs a simulated serial module.
type serialOutage struct{ *serial.Simulator }

func (o serialOutage) GoOffline()      { o.Unplug() }
func (o serialOutage) GoOnline() error { return o.Replug() }

// Malformed input (scenario key garbage:).

// WriteGarbage puts random bytes on the line between frames.
func (o serialOutage) WriteGarbage(rng *rand.Rand) error {
	b := make([]byte, 1+rng.Intn(16))
	rng.Read(b)
	return o.WriteRaw(b)
}

// WriteGarbage sends a correctly framed RO_ACCESS_REPORT whose body is
// random bytes: the stream stays in sync, the content is malformed.
func (o llrpOutage) WriteGarbage(rng *rand.Rand) error {
	body := make([]byte, 4+rng.Intn(28))
	rng.Read(body)
	msg := make([]byte, 10, 10+len(body))
	binary.BigEndian.PutUint16(msg[0:], 1<<10|61) // version 1, RO_ACCESS_REPORT
	binary.BigEndian.PutUint32(msg[2:], uint32(10+len(body)))
	binary.BigEndian.PutUint32(msg[6:], rng.Uint32())
	return o.InjectRaw(append(msg, body...))
}

// mqttGarbage is an MQTT publisher that also publishes malformed payloads
// on its topic from a second client.
type mqttGarbage struct {
	*mqtt.Publisher
	garbage paho.Client
	topic   string
}

var garbagePayloads = []string{
	`{"timestamp":"2026-11-20T08:00:00Z","eventType":"tagInventory","tagInventoryEvent":{"epcHex":`,
	`{"timestamp":"not a time","eventType":"tagInventory","tagInventoryEvent":{"epcHex":"30ZZ","antennaPort":"x"}}`,
	`{}`, `[]`, `null`, `"tagInventory"`,
}

func (m mqttGarbage) WriteGarbage(rng *rand.Rand) error {
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

func (m mqttGarbage) Close() error {
	m.garbage.Disconnect(250)
	return m.Publisher.Close()
}
