package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/gateway"
	"github.com/rfidgw/rfidgw/internal/redact"
	"github.com/rfidgw/rfidgw/internal/remoteconfig"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/uplink"
)

func checkCmd() *cobra.Command {
	var cfgPath string
	var timeout time.Duration
	var configOnly bool
	cmd := &cobra.Command{
		Use:   "check [--config FILE]",
		Short: "validate the config, then try every reader, broker, Kafka and the data dir",
		Long: `Check is the field doctor. It validates the config (exit 2 with every problem by
key path), then tries each dependency and prints one line per dependency:
  ok    what answered
  FAIL  what went wrong -> how to fix it
It exits 0 only if everything is ok, 1 if a dependency failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cfgPath, config.ScopeAll)
			if err != nil {
				return err
			}
			out := redact.Writer(cmd.OutOrStdout()) // no credentials in the report
			fmt.Fprintf(out, "ok    config %s: gateway %s, %s, %s\n", cfg.File, cfg.Gateway.ID, plural(len(cfg.Readers), "reader"), plural(len(cfg.Zones), "zone"))
			if configOnly {
				return nil
			}
			failed := 0
			// One line per dependency: what, then the detail or the
			// underlying error (without the prefixes that repeat what),
			// then the fix.
			report := func(what string, detail string, err error, fix string, repeats ...string) {
				if err != nil {
					failed++
					fmt.Fprintf(out, "FAIL  %s: %s", what, trimPrefixes(err.Error(), repeats...))
					if fix != "" {
						fmt.Fprintf(out, " -> %s", fix)
					}
					fmt.Fprintln(out)
					return
				}
				fmt.Fprintf(out, "ok    %s: %s\n", what, trimPrefixes(detail, repeats...))
			}
			for _, rc := range cfg.Readers {
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				detail, err := checkReader(ctx, cfg.Gateway.ID, rc)
				cancel()
				report(fmt.Sprintf("reader %s (%s)", rc.ID, rc.Type), detail, err, readerFix(rc, err),
					fmt.Sprintf("reader %q: ", rc.ID), fmt.Sprintf("reader %s: ", rc.ID))
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			ucfg, err := gateway.UplinkConfig(cfg)
			detail := ""
			if err == nil {
				detail, err = uplink.Check(ctx, ucfg)
			}
			cancel()
			brokers := strings.Join(cfg.Uplink.Kafka.Brokers, ",")
			report("kafka "+brokers, detail, err, kafkaFix(err, cfg.Uplink.Kafka.Topic, cfg.Uplink.Kafka.StatusTopic),
				"kafka "+brokers+": ", "kafka ok: ")
			if rc := cfg.RemoteConfig; rc.Enabled() {
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				detail, err := "", error(nil)
				if ucfg, err = gateway.UplinkConfig(cfg); err == nil {
					detail, err = remoteconfig.CheckTopic(ctx, ucfg, rc.Topic, cfg.Gateway.ID)
				}
				cancel()
				report("remote config topic "+rc.Topic, detail, err,
					"the gateway's Kafka user needs Read and Describe on "+rc.Topic+" (docs/install.md §13)")
			}
			detail, err = checkDataDir(cfg.Gateway.DataDir, int64(cfg.Buffer.MinFreeDisk))
			report("data_dir "+cfg.Gateway.DataDir, detail, err, "create it writable for the rfidgw user, or free space")
			detail, err = checkClock()
			report("clock", detail, err, "enable NTP (timedatectl set-ntp true)")
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d check(s) failed", failed)}
			}
			return nil
		},
	}
	configFlag(cmd, &cfgPath, "gateway config file")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "time allowed for each dependency")
	cmd.Flags().BoolVar(&configOnly, "config-only", false, "validate the config only, try no dependency")
	return cmd
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// trimPrefixes drops any of prefixes from the start of msg, repeatedly.
func trimPrefixes(msg string, prefixes ...string) string {
	for again := true; again; {
		again = false
		for _, p := range prefixes {
			if p != "" && strings.HasPrefix(msg, p) {
				msg, again = msg[len(p):], true
			}
		}
	}
	return msg
}

// kafkaFix names the fix for the kind of Kafka failure.
func kafkaFix(err error, topic, statusTopic string) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, uplink.ErrUnreachable):
		return "is Kafka running there? check uplink.kafka.brokers (host:port) and the firewall"
	case errors.Is(err, uplink.ErrAuthentication):
		return "check the credentials: uplink.kafka.sasl_password_file and librdkafka sasl.*/ssl.* settings"
	case errors.Is(err, uplink.ErrTopicMissing):
		return fmt.Sprintf("create topics %s and %s, or fix uplink.kafka.topic/status_topic", topic, statusTopic)
	case errors.Is(err, uplink.ErrNotAuthorized):
		return fmt.Sprintf("ask the Kafka admins for WRITE (and IDEMPOTENT_WRITE) ACLs on %s and %s for this principal", topic, statusTopic)
	case errors.Is(err, uplink.ErrConfig):
		return "fix uplink.kafka (librdkafka properties)"
	}
	return "check uplink.kafka.brokers, the network path and credentials"
}

func checkReader(ctx context.Context, gatewayID string, rc reader.Config) (string, error) {
	t, ok := reader.Lookup(rc.Type)
	if !ok {
		return "", fmt.Errorf("reader %q: type %q is not supported by this build", rc.ID, rc.Type)
	}
	return t.Probe(ctx, rc, reader.Env{GatewayID: gatewayID})
}

func readerFix(rc reader.Config, err error) string {
	if errors.Is(err, reader.ErrHeld) {
		return "the reader is held by another client, usually the running daemon: stop it first (systemctl stop rfidgw) or check while it is stopped"
	}
	if t, ok := reader.Lookup(rc.Type); ok {
		return t.Fix
	}
	return ""
}

func checkDataDir(dir string, minFree int64) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".check-*")
	if err != nil {
		return "", fmt.Errorf("not writable: %w", err)
	}
	name := f.Name()
	_, werr := io.WriteString(f, "rfidgw check\n")
	serr := f.Sync()
	f.Close()
	os.Remove(name)
	if err := errors.Join(werr, serr); err != nil {
		return "", fmt.Errorf("write/fsync failed: %w", err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "", err
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < minFree {
		return "", fmt.Errorf("only %d MiB free, buffer.min_free_disk is %d MiB", free>>20, minFree>>20)
	}
	abs, _ := filepath.Abs(dir)
	return fmt.Sprintf("%s writable, %d MiB free", abs, free>>20), nil
}

// checkClock rejects a clock that is obviously wrong (before this build's
// era), which would make every event time useless.
func checkClock() (string, error) {
	now := time.Now().UTC()
	if now.Year() < 2024 {
		return "", fmt.Errorf("system time %s is in the past", now.Format(time.RFC3339))
	}
	return now.Format(time.RFC3339), nil
}
