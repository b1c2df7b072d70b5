// Command rfidgw is the RFID edge gateway: one binary with the daemon
// (`run`) and the tools around it (check, replay, sim, tail, buffer, version).
// It only parses flags and wires packages; the work happens in reader/,
// edge/, buffer/, uplink/ and internal/.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/gateway"
)

// Set with -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks bad usage or bad config (exit 2).
func usageErr(err error) error { return &exitError{code: 2, err: err} }

func main() {
	root := &cobra.Command{
		Use:   "rfidgw",
		Short: "RFID edge gateway: reader reads -> movement events -> durable buffer -> Kafka",
		Long: `rfidgw takes tag reads from RFID readers (LLRP, serial, MQTT, or a reads file),
turns them into movement events (inward, outward, rack_move, rack_depart), keeps
them in a local bbolt buffer through network outages and forwards them to Kafka
with at-least-once delivery.

Start with:  rfidgw check --config /etc/rfidgw/gateway.yaml
Then run:    rfidgw run --config /etc/rfidgw/gateway.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json")
	root.PersistentFlags().String("log-level", "", "log level: debug, info, warn, error (default: the config's log.level, else info)")
	root.AddCommand(runCmd(), checkCmd(), replayCmd(), simCmd(), tailCmd(), bufferCmd(), hubCmd(), versionCmd())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr(err) })

	// Exit 2 means bad usage or config; a panic on the main goroutine is a
	// runtime failure (1), with its stack on stderr.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "rfidgw: internal error: %v\n%s", r, debug.Stack())
			os.Exit(1)
		}
	}()
	if err := root.Execute(); err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		} else if errors.Is(err, config.ErrConfig) {
			code = 2
		}
		if err.Error() != "" {
			fmt.Fprintln(os.Stderr, "rfidgw:", err)
		}
		os.Exit(code)
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print version, commit and build date",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "rfidgw %s (commit %s, built %s)\n", version, commit, date)
		},
	}
}

// loadConfig loads and validates; problems are exit 2.
func loadConfig(path string, scope config.Scope) (*config.Config, error) {
	if path == "" {
		return nil, usageErr(errors.New("--config is required (e.g. --config /etc/rfidgw/gateway.yaml)"))
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, usageErr(err)
	}
	if err := cfg.Validate(scope); err != nil {
		return nil, usageErr(err)
	}
	if scope == config.ScopeAll {
		// Each source checks its own settings (TLS and password files,
		// regexp groups, regions) without connecting.
		p := &config.Problems{File: cfg.File}
		for i, rc := range cfg.Readers {
			if _, err := gateway.NewSource(cfg.Gateway.ID, rc, nil); err != nil {
				p.Items = append(p.Items, fmt.Sprintf("readers[%d]: %v", i, err))
			}
		}
		if len(p.Items) > 0 {
			return nil, usageErr(p)
		}
	}
	return cfg, nil
}
