package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/internal/redact"
)

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newLogger builds the slog logger: text on a terminal, JSON otherwise (e.g.
// under systemd), unless --log-format or log.format says otherwise.
func newLogger(cmd *cobra.Command, cfgFormat, cfgLevel string) *slog.Logger {
	format, _ := cmd.Flags().GetString("log-format")
	if format == "auto" && cfgFormat != "" {
		format = cfgFormat
	}
	level, _ := cmd.Flags().GetString("log-level")
	if level == "" {
		level = cfgLevel
	}
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	// Credentials that reach a log line (a broker URL with a password, a
	// librdkafka error quoting its config) are masked on the way out.
	var w io.Writer = redact.Writer(os.Stderr)
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" || (format == "auto" && !isTerminal(os.Stderr)) {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
