package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/uplink"
)

func tailCmd() *cobra.Command {
	var opts uplink.TailOptions
	var brokers string
	cmd := &cobra.Command{
		Use:   "tail --brokers LIST --topic T",
		Short: "print events from Kafka and warn about seq holes and duplicate ids",
		Long: `Tail consumes the events topic and prints each event as a JSON line on stdout.
On stderr it warns when, per gateway, a seq is missing (a hole) or an id is
seen twice (a redelivery): the same check the hub runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if brokers == "" {
				return usageErr(fmt.Errorf("--brokers is required (host:port[,host:port])"))
			}
			opts.Brokers = strings.Split(brokers, ",")
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			err := uplink.Tail(ctx, opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if errors.Is(err, uplink.ErrHoles) {
				return &exitError{code: 1, err: err}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&brokers, "brokers", "", "Kafka bootstrap brokers, comma-separated")
	cmd.Flags().StringVar(&opts.Topic, "topic", uplink.DefaultTopic, "topic to read")
	cmd.Flags().BoolVar(&opts.FromBeginning, "from-beginning", false, "start at the oldest message instead of new ones")
	cmd.Flags().StringVar(&opts.Gateway, "gateway", "", "only events of this gateway id")
	cmd.Flags().IntVar(&opts.Count, "count", 0, "stop after this many events (0: run until Ctrl-C)")
	cmd.Flags().BoolVar(&opts.FailOnHoles, "fail-on-holes", false, "exit 1 at the end if a seq went missing that no gap event explains")
	cmd.Flags().DurationVar(&opts.HoleGrace, "hole-grace", 5*time.Second, "how long a missing seq may stay missing (once every partition is past it) before it is reported")
	cmd.Flags().BoolVar(&opts.Meta, "meta", false, `print each event as {"partition":P,"offset":O,"key":"K","event":{...}}`)
	return cmd
}

func bufferCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "buffer",
		Short: "inspect the local event buffer (works while the daemon is stopped)",
	}
	cmd.PersistentFlags().StringVar(&dir, "data-dir", config.DefaultDataDir, "the gateway's data_dir")
	cmd.AddCommand(&cobra.Command{
		Use:   "stats",
		Short: "pending events, bytes, oldest and newest seq and age, file size",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := buffer.ReadStats(dir)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "pending events   %d\n", st.Events)
			fmt.Fprintf(w, "pending bytes    %d\n", st.Bytes)
			if st.Events > 0 {
				fmt.Fprintf(w, "oldest           seq %d, committed %s (%s ago)\n", st.OldestSeq, st.OldestCommitted.UTC().Format(time.RFC3339), st.OldestAge.Round(time.Second))
				fmt.Fprintf(w, "newest           seq %d, committed %s (%s ago)\n", st.NewestSeq, st.NewestCommitted.UTC().Format(time.RFC3339), st.NewestAge.Round(time.Second))
			}
			fmt.Fprintf(w, "last seq         %d\n", st.LastSeq)
			fmt.Fprintf(w, "file size        %d bytes\n", st.FileBytes)
			if st.PendingGap > 0 {
				fmt.Fprintf(w, "pending gap      %d events lost, gap event not yet written\n", st.PendingGap)
			}
			if st.ReadyErr != "" {
				fmt.Fprintf(w, "NOT WRITABLE     %s\n", st.ReadyErr)
			}
			return nil
		},
	}, &cobra.Command{
		Use:   "dump",
		Short: "print pending events as JSON lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Ids as Kafka gets them: <gateway>-<epoch>-<seq> with "epoch".
			eps, err := buffer.ReadEpochs(dir)
			if err != nil {
				return err
			}
			ew := &epochWriter{w: cmd.OutOrStdout(), epochs: eps}
			err = buffer.Dump(dir, ew)
			if len(ew.line) > 0 { // a last line without a newline
				_, _ = cmd.OutOrStdout().Write(ew.line)
			}
			return err
		},
	})
	return cmd
}

// epochWriter rewrites the JSON lines of `buffer dump` into what the
// forwarder sends (the epoch in the id and an "epoch" field).
type epochWriter struct {
	w      io.Writer
	epochs buffer.EpochSet
	line   []byte
}

func (e *epochWriter) Write(p []byte) (int, error) {
	for _, c := range p {
		e.line = append(e.line, c)
		if c != '\n' {
			continue
		}
		var ev struct {
			Gateway string `json:"gateway"`
			Seq     uint64 `json:"seq"`
		}
		out := e.line
		if json.Unmarshal(e.line, &ev) == nil && ev.Seq > 0 {
			body := uplink.AddEpoch(e.line[:len(e.line)-1], ev.Gateway, e.epochs.EpochOf(ev.Seq), ev.Seq)
			out = append(append([]byte(nil), body...), '\n')
		}
		if _, err := e.w.Write(out); err != nil {
			return 0, err
		}
		e.line = e.line[:0]
	}
	return len(p), nil
}
