package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/gateway"
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
file (a bad new config is rejected and the old one keeps running).`,
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
			gateway.Version, gateway.Commit = version, commit
			gw, err := gateway.New(cfg, log)
			if err != nil {
				if errors.Is(err, config.ErrConfig) {
					return usageErr(err)
				}
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
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
					if err == nil {
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
	configFlag(cmd, &cfgPath, "gateway config file (YAML)")
	return cmd
}
