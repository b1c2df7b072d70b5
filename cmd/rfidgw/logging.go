package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rfidgw/rfidgw/internal/redact"
)

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newLogger builds the slog logger: text on a terminal, JSON otherwise (e.g.
// under systemd), unless --log-format or log.format says otherwise. When
// stderr is systemd's journal stream, every line starts with its syslog
// priority (<3> error, <4> warning, <6> info, <7> debug), which journald
// takes as the line's PRIORITY= and strips: `journalctl -p warning` then
// shows warnings and errors only, and `journalctl -o cat` the bare line.
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
	json := format == "json" || (format == "auto" && !isTerminal(os.Stderr))
	// Credentials that reach a log line (a broker URL with a password, a
	// librdkafka error quoting its config) are masked on the way out.
	return buildLogger(redact.Writer(os.Stderr), json, lv, journalStream(os.Stderr))
}

// buildLogger is newLogger without flags and environment, for tests.
func buildLogger(w io.Writer, json bool, lv slog.Level, journal bool) *slog.Logger {
	mk := func(w io.Writer) slog.Handler {
		opts := &slog.HandlerOptions{Level: lv}
		if json {
			return slog.NewJSONHandler(w, opts)
		}
		return slog.NewTextHandler(w, opts)
	}
	if !journal {
		return slog.New(mk(w))
	}
	return slog.New(newPriorityHandler(w, mk))
}

// journalStream reports whether f is the stream systemd connected to the
// journal: systemd sets JOURNAL_STREAM=<device>:<inode> of that stream
// (systemd.exec(5)); a redirected stderr (2>file) no longer matches it.
func journalStream(f *os.File) bool {
	js := os.Getenv("JOURNAL_STREAM")
	if js == "" {
		return false
	}
	var dev, ino uint64
	if _, err := fmt.Sscanf(js, "%d:%d", &dev, &ino); err != nil {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == dev && st.Ino == ino
}

// syslogPriority maps a slog level to the syslog priority journald files
// it under (sd-daemon(3)): error 3, warning 4, info 6, debug 7. Levels in
// between round down to the more severe one, e.g. Info+2 is a warning.
func syslogPriority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	}
	return 7
}

// journalPrefix is the "<N>" prefix journald reads from a stream line.
func journalPrefix(l slog.Level) string { return fmt.Sprintf("<%d>", syslogPriority(l)) }

// priorityHandler writes each record through the inner handler of its
// priority; each inner handler's writer puts "<N>" before the line. The
// standard handlers write one whole line per Write call, so the prefix
// always starts a line.
type priorityHandler struct {
	byPrio map[int]slog.Handler // 3, 4, 6, 7
}

func newPriorityHandler(w io.Writer, mk func(io.Writer) slog.Handler) *priorityHandler {
	lw := &lockedWriter{w: w}
	h := &priorityHandler{byPrio: map[int]slog.Handler{}}
	for _, p := range []int{3, 4, 6, 7} {
		h.byPrio[p] = mk(&prefixWriter{prefix: []byte(fmt.Sprintf("<%d>", p)), w: lw})
	}
	return h
}

func (h *priorityHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.byPrio[syslogPriority(l)].Enabled(ctx, l)
}

func (h *priorityHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.byPrio[syslogPriority(r.Level)].Handle(ctx, r)
}

func (h *priorityHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &priorityHandler{byPrio: map[int]slog.Handler{}}
	for p, ih := range h.byPrio {
		n.byPrio[p] = ih.WithAttrs(as)
	}
	return n
}

func (h *priorityHandler) WithGroup(name string) slog.Handler {
	n := &priorityHandler{byPrio: map[int]slog.Handler{}}
	for p, ih := range h.byPrio {
		n.byPrio[p] = ih.WithGroup(name)
	}
	return n
}

// lockedWriter serialises the four handlers' writes (each standard
// handler locks only around its own writes).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type prefixWriter struct {
	prefix []byte
	w      io.Writer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	line := make([]byte, 0, len(p.prefix)+len(b))
	line = append(append(line, p.prefix...), b...)
	if _, err := p.w.Write(line); err != nil {
		return 0, err
	}
	return len(b), nil
}
