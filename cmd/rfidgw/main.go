// Command rfidgw is the RFID edge gateway: one binary with the daemon
// (`run`) and the tools around it (check, replay, sim, tail, buffer, version).
// It only parses flags and wires packages; the work happens in reader/,
// edge/, buffer/, uplink/ and internal/.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/gateway"
	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/internal/redact"
	"github.com/rfidgw/rfidgw/internal/remoteconfig"
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
	// --version prints the same line as `rfidgw version`.
	root.Version = version
	root.SetVersionTemplate(versionLine() + "\n")
	root.PersistentFlags().String("log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json")
	root.PersistentFlags().String("log-level", "", "log level: debug, info, warn, error (default: the config's log.level, else info)")
	root.AddCommand(runCmd(), checkCmd(), replayCmd(), simCmd(), tailCmd(), bufferCmd(), epcCmd(), configCmd(), hubCmd(), versionCmd())
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
			msg := "rfidgw: " + redact.String(err.Error()) // no credentials from a bad broker URL
			// Under systemd this last word is an error in the journal
			// (journalctl -p err), not an info line: every line of it
			// (one per config problem) carries the priority.
			if journalStream(os.Stderr) {
				p := journalPrefix(slog.LevelError)
				msg = p + strings.ReplaceAll(msg, "\n", "\n"+p)
			}
			fmt.Fprintln(os.Stderr, msg)
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
			fmt.Fprintln(cmd.OutOrStdout(), versionLine())
		},
	}
}

// versionLine is what `rfidgw version` and `rfidgw --version` print; the
// version is the .deb's (scripts/version.sh) and rfidgw_build_info's.
func versionLine() string {
	return fmt.Sprintf("rfidgw %s (commit %s, built %s, %s)", version, commit, date, runtime.Version())
}

// defaultConfig is where the package installs the site config; --config
// defaults to it.
const defaultConfig = "/etc/rfidgw/gateway.yaml"

// configFlag adds --config (default defaultConfig) to cmd.
func configFlag(cmd *cobra.Command, p *string, what string) {
	cmd.Flags().StringVarP(p, "config", "c", defaultConfig, what)
}

// loadConfig loads and validates; problems are exit 2.
func loadConfig(path string, scope config.Scope) (*config.Config, error) {
	if path == "" {
		return nil, usageErr(errors.New("--config is empty: give the gateway config file (the package installs " + defaultConfig + ")"))
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		hint := "; pass --config FILE"
		if path == defaultConfig {
			hint = " (the default --config); the .deb installs it there, or pass --config FILE"
		}
		return nil, usageErr(fmt.Errorf("config %s: no such file%s", path, hint))
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, usageErr(err)
	}
	return validateConfig(cfg, scope)
}

// validateConfig is the whole check of a loaded config: the same for the
// file (`check --config-only`, run, SIGHUP) and for a pushed config.
func validateConfig(cfg *config.Config, scope config.Scope) (*config.Config, error) {
	if err := cfg.Validate(scope); err != nil {
		return nil, usageErr(err)
	}
	if scope == config.ScopeAll {
		// Each source checks its own settings (TLS and password files,
		// regexp groups, regions) without connecting.
		p := &config.Problems{File: cfg.File}
		for i, rc := range cfg.Readers {
			if _, err := gateway.NewSource(cfg.Gateway.ID, rc, nil); err != nil {
				p.Add(keyed.In(fmt.Sprintf("readers[%d]", i), []error{err})...)
			}
		}
		if rc := cfg.RemoteConfig; rc.Enabled() {
			if _, err := remoteconfig.LoadKeySet(rc.PublicKeys); err != nil {
				p.Add(err)
			}
		}
		if len(p.Items) > 0 {
			return nil, usageErr(p)
		}
	}
	return cfg, nil
}

// loadConfigYAML is loadConfig for the local file composed with pushed
// sections (remoteconfig.Loader); name stands for the file in problems.
func loadConfigYAML(name string, data []byte) (*config.Config, error) {
	cfg, err := config.LoadYAML(name, data)
	if err != nil {
		return nil, usageErr(err)
	}
	return validateConfig(cfg, config.ScopeAll)
}
