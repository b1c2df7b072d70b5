package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/internal/remoteconfig"
	"github.com/rfidgw/rfidgw/uplink"
)

func configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "configure gateways from the centre: keygen, push signed zones/filter/edge/reader settings, fleet status",
		Long: `Remote config: the facility team signs the remotely changeable sections of the
gateway config (zones, filter, edge, readers) and publishes them on a compacted Kafka topic;
every gateway with remote_config.public_keys applies what is addressed to it (or to
all), behind a health gate, and reports the result on the status topic.

  rfidgw config keygen --out DIR
  rfidgw config push --brokers LIST --gateway G|--all --file F --key DIR/config.key
  rfidgw config status --brokers LIST`,
	}
	cmd.AddCommand(configKeygenCmd(), configPushCmd(), configStatusCmd())
	return cmd
}

func configKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen --out DIR",
		Short: "write a new signing key: DIR/config.key (private, 0600) and DIR/config.pub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErr(errors.New("--out is required (a directory for config.key and config.pub)"))
			}
			id, err := remoteconfig.KeyGen(out, nil)
			if err != nil {
				return usageErr(err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "key id %s\n", id)
			fmt.Fprintf(w, "private %s/%s (keep it with the facility team; never on a gateway)\n", strings.TrimRight(out, "/"), remoteconfig.PrivateKeyFile)
			fmt.Fprintf(w, "public  %s/%s (copy to each gateway and list it in remote_config.public_keys)\n", strings.TrimRight(out, "/"), remoteconfig.PublicKeyFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write config.key and config.pub into (created 0700)")
	return cmd
}

// kafkaProps parses repeated -X key=value flags.
func kafkaProps(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("-X %q: want key=value (a librdkafka property, e.g. security.protocol=SASL_SSL)", kv)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func configPushCmd() *cobra.Command {
	var (
		o                      remoteconfig.PushOptions
		brokers, file, keyPath string
		gateway                string
		all                    bool
		props                  []string
	)
	cmd := &cobra.Command{
		Use:   "push --brokers LIST --gateway G|--all --file F --key DIR/config.key",
		Short: "sign the sections in F (zones, filter, edge, readers) and publish them for one gateway or all",
		Long: `Push signs F and publishes it on the config topic (created compacted if missing),
keyed by the gateway id, or by "*" with --all (fleet-wide: every gateway applies it
under its own push). F holds only the remotely changeable sections, in the gateway's
YAML form:

  zones:
    - {id: gate-a, kind: gate, outside: [{reader: dock-1, antennas: [1, 2]}], inside: [{reader: dock-1, antennas: [3, 4]}]}
  edge:
    dwell: 4s

A section in F replaces that whole section on the gateway; sections F leaves out stay
as they are. An empty F hands every section back (to the fleet push, else to the
gateway's local file). The version is one more than the highest on the topic unless
--version says otherwise (versions only go up). Watch the result with
rfidgw config status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Brokers = splitBrokers(brokers)
			if len(o.Brokers) == 0 {
				return usageErr(errors.New("--brokers is required (host:port[,host:port])"))
			}
			switch {
			case all && gateway != "":
				return usageErr(errors.New("give --gateway G or --all, not both"))
			case all:
				o.Target = remoteconfig.FleetKey
			case gateway != "":
				o.Target = gateway
			default:
				return usageErr(errors.New("--gateway G or --all is required"))
			}
			if file == "" || keyPath == "" {
				return usageErr(errors.New("--file and --key are required"))
			}
			var err error
			if o.Librdkafka, err = kafkaProps(props); err != nil {
				return usageErr(err)
			}
			if o.Config, err = readBounded(file, remoteconfig.MaxConfigBytes); err != nil {
				return usageErr(err)
			}
			if o.Key, err = remoteconfig.LoadPrivateKey(keyPath); err != nil {
				return usageErr(err)
			}
			if _, err := remoteconfig.ParseSections(o.Config); err != nil {
				return usageErr(fmt.Errorf("%s: %w", file, err))
			}
			o.By = remoteconfig.WhoAmI()
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			res, err := remoteconfig.Push(ctx, o)
			if err != nil {
				if errors.Is(err, remoteconfig.ErrTool) || errors.Is(err, uplink.ErrConfig) {
					return usageErr(err)
				}
				return err
			}
			w := cmd.OutOrStdout()
			target := "gateway " + o.Target
			if o.Target == remoteconfig.FleetKey {
				target = "every gateway (fleet key *)"
			}
			if res.TopicCreated {
				fmt.Fprintf(w, "created topic %s (compacted)\n", topicOr(o.Topic))
			}
			secs := strings.Join(res.Sections, ",")
			if secs == "" {
				secs = "none: hands the sections back"
			}
			fmt.Fprintf(w, "pushed version %d for %s: sections %s, hash %s, key %s, %s partition %d offset %d\n",
				res.Version, target, secs, res.Hash, res.KeyID, topicOr(o.Topic), res.Partition, res.Offset)
			fmt.Fprintf(w, "watch it: rfidgw config status --brokers %s\n", brokers)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&brokers, "brokers", "", "Kafka bootstrap brokers, comma-separated")
	f.StringVar(&gateway, "gateway", "", "the gateway id to configure")
	f.BoolVar(&all, "all", false, "configure every gateway (fleet-wide defaults, key *)")
	f.StringVar(&file, "file", "", "YAML file with the sections to push (zones, filter, edge, readers)")
	f.StringVar(&keyPath, "key", "", "private signing key (DIR/config.key from rfidgw config keygen)")
	f.StringVar(&o.Topic, "topic", remoteconfig.DefaultTopic, "config topic (remote_config.topic of the gateways)")
	f.Uint64Var(&o.Version, "version", 0, "version to publish (default: one more than the highest on the topic)")
	f.StringArrayVarP(&props, "property", "X", nil, "librdkafka property key=value (security.protocol, sasl.*, ssl.*; repeatable)")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Second, "time allowed to reach Kafka and publish")
	return cmd
}

func topicOr(t string) string {
	if t == "" {
		return remoteconfig.DefaultTopic
	}
	return t
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

func configStatusCmd() *cobra.Command {
	var (
		o        remoteconfig.StatusOptions
		brokers  string
		props    []string
		asJSON   bool
		detailed bool
	)
	cmd := &cobra.Command{
		Use:   "status --brokers LIST",
		Short: "one line per gateway: id, version, hash, result, reason, since",
		Long: `Status reads the gateways' status topic (the latest status of each gateway that
sent one within --since) and prints one line per gateway:

  ID  VERSION  HASH  RESULT  REASON  SINCE

VERSION and HASH are the pushed config the gateway runs (0 and - when it runs its
local file only); RESULT is that of the last push it handled: applied, rejected,
rolled_back (or checking while its health gate is open); REASON is a one-word code
(unsigned, unknown_key, bad_signature, older_version, other_gateway, invalid,
not_ready, reader_offline, interrupted; - when none); SINCE is when that result
happened. A gateway without remote_config shows - in every column. --detail adds
what exactly went wrong; --json prints the whole statuses.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Brokers = splitBrokers(brokers)
			if len(o.Brokers) == 0 {
				return usageErr(errors.New("--brokers is required (host:port[,host:port])"))
			}
			var err error
			if o.Librdkafka, err = kafkaProps(props); err != nil {
				return usageErr(err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			list, err := remoteconfig.FleetStatus(ctx, o)
			if err != nil {
				if errors.Is(err, remoteconfig.ErrTool) || errors.Is(err, uplink.ErrConfig) {
					return usageErr(err)
				}
				return err
			}
			w := cmd.OutOrStdout()
			for _, s := range list {
				if asJSON {
					b, _ := json.Marshal(s)
					fmt.Fprintln(w, string(b))
					continue
				}
				fmt.Fprintln(w, statusLine(s, detailed))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&brokers, "brokers", "", "Kafka bootstrap brokers, comma-separated")
	f.StringVar(&o.Topic, "status-topic", uplink.DefaultStatusTopic, "the gateways' status topic (uplink.kafka.status_topic)")
	f.DurationVar(&o.Since, "since", 10*time.Minute, "only gateways that sent a status this recently")
	f.StringArrayVarP(&props, "property", "X", nil, "librdkafka property key=value (security.protocol, sasl.*, ssl.*; repeatable)")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Second, "time allowed to read the status topic")
	f.BoolVar(&asJSON, "json", false, "print each gateway's whole status as a JSON line")
	f.BoolVar(&detailed, "detail", false, "add the detail of the last result (free text) at the end of the line")
	return cmd
}

// statusLine formats one gateway: id version hash result reason since.
func statusLine(s uplink.GatewayStatus, detailed bool) string {
	dash := func(v string) string {
		if v == "" {
			return "-"
		}
		return v
	}
	c := s.Config
	if c == nil {
		return fmt.Sprintf("%s - - - - -", s.Gateway)
	}
	since := "-"
	if !c.Since.IsZero() {
		since = c.Since.UTC().Format(time.RFC3339)
	}
	line := fmt.Sprintf("%s %d %s %s %s %s", s.Gateway, c.Version, dash(c.Hash), dash(c.Result), dash(c.Reason), since)
	if detailed && c.Detail != "" {
		line += " " + strings.ReplaceAll(c.Detail, "\n", "; ")
	}
	return line
}
