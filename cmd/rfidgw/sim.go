package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/internal/sim"
	"github.com/rfidgw/rfidgw/reader"
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
				em, where, err := reader.StartSim(ctx, r, log.With("sim_reader", r.ID))
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
