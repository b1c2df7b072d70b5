package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/epcis"
	"github.com/rfidgw/rfidgw/reader"
)

func replayCmd() *cobra.Command {
	var cfgPath, readsPath, comparePath, format string
	var flush bool
	cmd := &cobra.Command{
		Use:   "replay --config FILE --reads READS.jsonl",
		Short: "run the edge engine over recorded reads and print the events (no buffer, no Kafka)",
		Long: `Replay feeds recorded reads (JSON lines as docs/zones.md describes, e.g. from record.path) through
the edge engine with the zones and edge settings of --config and prints the
events as JSON lines on stdout, numbered from seq 1. The engine's clock follows
the reads, so the output is deterministic: change a setting, replay the same
day, and compare what it would have emitted.

With --compare OTHER.yaml the same reads also go through a second engine with
OTHER.yaml's zones and settings, and replay prints only what differs: one
line per event that only one of the two emits ("-" only with --config, "+"
only with OTHER.yaml) or that both emit a second or more apart ("~"), in time
order, then a summary line per event type. Events are the same when type,
EPC, zone and the racks moved between match.

Reads of foreign tags are dropped by the config's filter: and zones'
accept/ignore lists first, as the daemon does (with --compare, each config's
own lists).

--format epcis prints one EPCIS 2.0 EPCISDocument (JSON-LD) with every movement
as an ObjectEvent instead, mapped as the EPCIS topic would carry it (bizStep
mapping, zones' readPoint/bizLocation, time zone from uplink.epcis and
zones[].epcis); its creationDate is the time of the last read, so the output
stays deterministic.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if readsPath == "" {
				return usageErr(fmt.Errorf("--reads is required"))
			}
			if format != "jsonl" && format != "epcis" {
				return usageErr(fmt.Errorf("--format: %q is neither jsonl nor epcis", format))
			}
			if format == "epcis" && comparePath != "" {
				return usageErr(fmt.Errorf("--format epcis and --compare do not go together"))
			}
			cfg, err := loadConfig(cfgPath, config.ScopeEdge)
			if err != nil {
				return err
			}
			eng, err := edge.New(cfg.EdgeConfig())
			if err != nil {
				return usageErr(err)
			}
			filter, err := edge.NewReadFilter(cfg.EdgeConfig())
			if err != nil {
				return usageErr(err)
			}
			var enc *epcis.Encoder
			var epcisEvents []epcis.ObjectEvent
			if format == "epcis" {
				if enc, err = epcis.NewEncoder(cfg.EPCISConfig()); err != nil {
					return usageErr(err)
				}
			}
			// --compare: a second engine with the other settings over the
			// same reads; the events are kept and compared at the end.
			var other *edge.Engine
			var otherFilter *edge.ReadFilter
			var evA, evB, evOther []edge.Event
			if comparePath != "" {
				cfgB, err := loadConfig(comparePath, config.ScopeEdge)
				if err != nil {
					return err
				}
				if other, err = edge.New(cfgB.EdgeConfig()); err != nil {
					return usageErr(fmt.Errorf("%s: %w", comparePath, err))
				}
				if otherFilter, err = edge.NewReadFilter(cfgB.EdgeConfig()); err != nil {
					return usageErr(fmt.Errorf("%s: %w", comparePath, err))
				}
			}
			in := os.Stdin
			if readsPath != "-" {
				f, err := os.Open(readsPath)
				if err != nil {
					return usageErr(fmt.Errorf("--reads: %w", err))
				}
				defer f.Close()
				in = f
			}
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			defer out.Flush()
			var (
				seq    uint64
				events []edge.Event
				buf    []byte
				last   reader.Read
			)
			emit := func() error {
				if other != nil {
					evA = append(evA, events...)
					evB = append(evB, evOther...)
					events, evOther = events[:0], evOther[:0]
					return nil
				}
				for i := range events {
					seq++
					events[i].Seq, events[i].Gateway = seq, cfg.Gateway.ID
					if enc != nil {
						ev, ok, err := enc.Encode(&events[i])
						if err != nil {
							return err
						}
						if ok {
							epcisEvents = append(epcisEvents, ev)
						}
						continue
					}
					buf = events[i].AppendJSON(buf[:0])
					buf = append(buf, '\n')
					if _, err := out.Write(buf); err != nil {
						return err
					}
				}
				events = events[:0]
				return nil
			}
			lines, bad, filtered := 0, 0, 0
			err = reader.ScanReads(in, func(line int, r reader.Read, perr error) error {
				lines = line
				if perr != nil {
					bad++
					fmt.Fprintf(cmd.ErrOrStderr(), "rfidgw: %s:%d: %v (skipped)\n", readsPath, line, perr)
					return nil
				}
				// As in the daemon: timeouts up to this read's time first.
				if other != nil {
					r2 := r
					evOther = other.Tick(evOther, r2.Time)
					if otherFilter.Allows(&r2) {
						evOther = other.Process(evOther, &r2)
					}
				}
				events = eng.Tick(events, r.Time)
				if filter.Allows(&r) {
					events = eng.Process(events, &r)
				} else {
					filtered++
				}
				last = r
				return emit()
			})
			if err != nil {
				return fmt.Errorf("%s: %w", readsPath, err)
			}
			if flush && !last.Time.IsZero() {
				events = eng.Flush(events, last.Time)
				if other != nil {
					evOther = other.Flush(evOther, last.Time)
				}
				if err := emit(); err != nil {
					return err
				}
			}
			if other != nil {
				na, nb := compareNames(cfgPath, comparePath)
				compareEvents(out, na, nb, evA, evB)
			}
			if bad > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "rfidgw: %d of %d lines were not reads\n", bad, lines)
			}
			if filtered > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "rfidgw: %d reads of foreign tags dropped by filter:/accept/ignore\n", filtered)
			}
			if enc != nil {
				doc, err := epcis.Document(epcisEvents, last.Time)
				if err != nil {
					return err
				}
				if _, err := out.Write(doc); err != nil {
					return err
				}
			}
			return nil
		},
	}
	configFlag(cmd, &cfgPath, "gateway config with zones and edge settings")
	cmd.Flags().StringVar(&readsPath, "reads", "", "reads JSON-lines file (- for stdin)")
	cmd.Flags().StringVar(&comparePath, "compare", "", "a second config: print the events that differ between it and --config over the same reads")
	cmd.Flags().StringVar(&format, "format", "jsonl", "output: jsonl (rfidgw events, one per line) or epcis (one EPCIS 2.0 EPCISDocument)")
	cmd.Flags().BoolVar(&flush, "flush", false, "at the end of input, emit what pending timeouts would emit (departures, dwell)")
	return cmd
}
