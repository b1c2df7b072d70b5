package main

import (
	"context"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rfidgw/rfidgw/hub"
)

// hubConfig loads --config (if given) and applies the flags that were set.
func hubConfig(cmd *cobra.Command, path string) (hub.Config, error) {
	cfg := hub.Default()
	if path != "" {
		var err error
		if cfg, err = hub.Load(path); err != nil {
			return cfg, usageErr(err)
		}
	}
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		v := f.Value.String()
		switch f.Name {
		case "brokers":
			cfg.Brokers = strings.Split(v, ",")
		case "listen":
			cfg.Listen = v
		case "topic":
			cfg.Topic = v
		case "status-topic":
			cfg.StatusTopic = v
		case "locations-topic":
			cfg.LocationsTopic = v
		case "dlq-topic":
			cfg.DLQTopic = v
		case "group":
			cfg.Group = v
		case "instance":
			cfg.Instance = v
		case "token-file":
			cfg.TokenFile = v
		case "hole-timeout", "cross-floor-window":
			d, perr := time.ParseDuration(v)
			if perr != nil {
				err = perr
			}
			if f.Name == "hole-timeout" {
				cfg.HoleTimeout = hub.Duration(d)
			} else {
				cfg.CrossFloorWindow = hub.Duration(d)
			}
		}
	})
	if err != nil {
		return cfg, usageErr(err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageErr(err)
	}
	return cfg, nil
}

func hubCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "hub --brokers LIST [--listen ADDR] [--config FILE]",
		Short: "run the central hub: audit every gateway stream, one timeline per asset, HTTP API",
		Long: `The hub consumes the events and status topics of every gateway: it drops
duplicates, audits seq holes per gateway epoch, keeps one timeline per asset
across gateways (cross-floor moves), publishes current locations to a
compacted topic and serves GET /assets/{epc}, /racks/{zone}, /gateways and
/metrics. Several instances in one consumer group share the asset view.
A config file (--config, section "hub:") is optional; flags override it.
See docs/hub.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := hubConfig(cmd, cfgPath)
			if err != nil {
				return err
			}
			log := newLogger(cmd, "", "")
			h, err := hub.New(cfg, log)
			if err != nil {
				return usageErr(err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return h.Run(ctx)
		},
	}
	f := cmd.PersistentFlags()
	f.StringVar(&cfgPath, "config", "", "hub config file (YAML with a hub: section); optional")
	f.String("brokers", "", "Kafka bootstrap brokers, comma-separated")
	f.String("listen", hub.DefaultListen, "HTTP address of the API")
	f.String("topic", hub.DefaultTopic, "events topic")
	f.String("status-topic", hub.DefaultStatusTopic, "gateway status topic")
	f.String("locations-topic", hub.DefaultLocationsTopic, "compacted topic of current locations")
	f.String("dlq-topic", hub.DefaultDLQTopic, "dead-letter topic")
	f.String("group", hub.DefaultGroup, "consumer group of the asset view")
	f.String("instance", "", "instance name (default host-pid)")
	f.String("token-file", "", "file with the API bearer token (required unless --listen is loopback)")
	f.String("hole-timeout", hub.DefaultHoleTimeout.String(), "longest a seq hole stays open before it counts as missing")
	f.String("cross-floor-window", hub.DefaultCrossFloorWindow.String(), "rack_depart + placement on another gateway within this = one move")
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "validate the hub config (exit 2 with every problem), then try the brokers and topics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := hubConfig(cmd, cfgPath)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, "ok    config")
			adm, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": strings.Join(cfg.Brokers, ","), "log_level": 3})
			if err != nil {
				return usageErr(err)
			}
			defer adm.Close()
			failed := false
			for _, t := range []string{cfg.Topic, cfg.StatusTopic} {
				md, err := adm.GetMetadata(&t, false, 10000)
				switch {
				case err != nil:
					fmt.Fprintf(w, "FAIL  kafka %s: %v\n", strings.Join(cfg.Brokers, ","), err)
					failed = true
				case md.Topics[t].Error.Code() != kafka.ErrNoError:
					fmt.Fprintf(w, "FAIL  topic %s: %v\n", t, md.Topics[t].Error)
					failed = true
				default:
					fmt.Fprintf(w, "ok    topic %s: %d partitions\n", t, len(md.Topics[t].Partitions))
				}
			}
			if failed {
				return &exitError{code: 1, err: fmt.Errorf("hub check failed")}
			}
			return nil
		},
	})
	return cmd
}
