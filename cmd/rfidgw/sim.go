package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

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
			log.Info("scenario played", "reads", n)
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
		return p, r.Broker + " " + r.Topic, nil
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
