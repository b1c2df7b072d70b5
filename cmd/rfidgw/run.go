package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/gateway"
)

func runCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
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
			gateway.Version = version
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
				addr, _, err := gateway.Serve(ctx, cfg.HTTP.Listen, gw.Handler(token))
				if err != nil {
					return err
				}
				log.Info("http listening", "addr", addr.String(), "paths", "/healthz /readyz /metrics")
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			go func() {
				for range hup {
					next, err := loadConfig(cfgPath, config.ScopeAll)
					if err != nil {
						log.Error("reload rejected; the running config stays", "err", err)
						continue
					}
					if err := gw.Reload(ctx, next); err != nil {
						log.Error("reload rejected; the running config stays", "err", err)
						continue
					}
					log.Info("reload done")
				}
			}()
			return gw.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "gateway config file (YAML, contract §4)")
	return cmd
}
