package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/gateway"
	"github.com/rfidgw/rfidgw/internal/metrics"
	"github.com/rfidgw/rfidgw/internal/remoteconfig"
	"github.com/rfidgw/rfidgw/internal/sdnotify"
	"github.com/rfidgw/rfidgw/internal/zonepage"
)

// notifySystemd sends READY=1 once the pipeline runs, then WATCHDOG=1 (with
// STATUS=) only while the pipeline makes progress. Without NOTIFY_SOCKET
// (not under systemd) it does nothing.
func notifySystemd(ctx context.Context, gw *gateway.Gateway, log *slog.Logger) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return
	}
	// A disk at min_free_disk makes the gateway not ready but it runs (the
	// buffer drops by policy): start-up is finished, and waiting for space
	// would only make systemd kill and restart it.
	for err := gw.Ready(); err != nil && !errors.Is(err, buffer.ErrDiskFull); err = gw.Ready() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	if _, err := sdnotify.Ready(gw.StatusLine()); err != nil {
		log.Warn("systemd notify failed", "err", err)
	}
	if interval, ok := sdnotify.WatchdogInterval(); ok {
		sdnotify.NewWatchdog(interval, gw.Alive, gw.StatusLine).WithLogger(log).Run(ctx)
		return
	}
	// No watchdog: still keep STATUS= current for `systemctl status`.
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sdnotify.Status(gw.StatusLine())
		}
	}
}

func runCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "run [--config FILE]",
		Short: "run the gateway daemon",
		Long: `Run the gateway: connect the readers, turn reads into events, commit them to the
buffer in gateway.data_dir and forward them to Kafka. SIGTERM/SIGINT stop it
cleanly; SIGHUP reloads zones, edge settings and changed readers from the same
file (a bad new config is rejected and the old one keeps running).

With remote_config.public_keys set, it also reads signed pushes of zones, tag
filters, edge and reader settings from Kafka (rfidgw config push), applies them behind a
health gate (remote_config.rollback_after) and rolls back by itself when the
gateway is not ready or a reader that was online does not come back. Pushed
sections win over the same sections of the local file, also on SIGHUP; the
last good push is kept in gateway.data_dir and runs after a restart even while
Kafka is away.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cfgPath, config.ScopeAll)
			if err != nil {
				return err
			}
			log := newLogger(cmd, cfg.Log.Format, cfg.Log.Level)
			token, err := gateway.ReadToken(cfg.HTTP.TokenFile)
			if err != nil {
				return usageErr(err)
			}
			// Remote config: start with the local file plus the last good
			// pushed sections kept in the data dir (Kafka may be away).
			var remote *remoteconfig.Manager
			if cfg.RemoteConfig.Enabled() {
				body, err := os.ReadFile(cfgPath)
				if err != nil {
					return usageErr(err)
				}
				remote, err = remoteconfig.Open(remoteconfig.Options{
					Local: cfg, LocalYAML: body, Load: loadConfigYAML, Log: log,
				})
				if err != nil {
					if errors.Is(err, config.ErrConfig) {
						return usageErr(err)
					}
					return err
				}
				cfg = remote.Running()
			}
			gw, err := gateway.New(cfg, gateway.Options{Log: log, Version: version, Commit: commit, Metrics: metrics.New()})
			if err != nil {
				if errors.Is(err, config.ErrConfig) {
					return usageErr(err)
				}
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if remote != nil {
				gw.UseRemoteConfig(remote)
				ucfg, err := gateway.UplinkConfig(cfg)
				if err != nil {
					return usageErr(err)
				}
				cons, err := remoteconfig.NewConsumer(ucfg, cfg.RemoteConfig.Topic, cfg.Gateway.ID, log)
				if err != nil {
					return usageErr(err)
				}
				go remote.Run(ctx, gw.RemoteTarget())
				go func() {
					if err := cons.Run(ctx, remote.Offer); err != nil {
						log.Error("remote config consumer stopped; the config in effect stays until a restart", "err", err)
					}
				}()
				log.Info("remote config on", "topic", cfg.RemoteConfig.Topic, "keys", strings.Join(remote.Keys(), ","),
					"rollback_after", remote.Gate(), "version", remote.Status().Version, "hash", remote.Status().Hash)
			}
			if cfg.HTTP.Listen != "" {
				gw.Handle("/", zonepage.Handler(gw.PageModel(), zonepage.Options{Logger: log, Done: ctx.Done()}))
				addr, _, err := gateway.Serve(ctx, cfg.HTTP.Listen, gw.Handler(token))
				if err != nil {
					return err
				}
				log.Info("http listening", "addr", addr.String(), "zone_page", "http://"+addr.String()+"/", "paths", "/healthz /readyz /metrics /api/")
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			go func() {
				for range hup {
					sdnotify.Reloading()
					next, err := loadConfig(cfgPath, config.ScopeAll)
					if err == nil && remote != nil {
						// Pushed sections win over the local file's.
						var body []byte
						if body, err = os.ReadFile(cfgPath); err == nil {
							err = remote.LocalReload(ctx, next, body)
						}
					} else if err == nil {
						err = gw.Reload(ctx, next)
					}
					if err != nil {
						log.Error("reload rejected; the running config stays", "err", err)
					} else {
						log.Info("reload done", "zones", len(next.Zones), "readers", len(next.Readers))
					}
					sdnotify.Ready(gw.StatusLine())
				}
			}()
			go notifySystemd(ctx, gw, log)
			err = gw.Run(ctx)
			sdnotify.Stopping()
			return err
		},
	}
	configFlag(cmd, &cfgPath, "gateway config file (YAML, every key in docs/config.md)")
	return cmd
}
