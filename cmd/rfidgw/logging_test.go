package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rfidgw/rfidgw/internal/testkit"
)

func TestSyslogPriority(t *testing.T) {
	for _, c := range []struct {
		l    slog.Level
		want int
	}{
		{slog.LevelDebug - 4, 7}, {slog.LevelDebug, 7}, {slog.LevelInfo - 1, 7},
		{slog.LevelInfo, 6}, {slog.LevelInfo + 2, 6}, {slog.LevelWarn, 4},
		{slog.LevelWarn + 2, 4}, {slog.LevelError, 3}, {slog.LevelError + 8, 3},
	} {
		if got := syslogPriority(c.l); got != c.want {
			t.Errorf("syslogPriority(%v) = %d, want %d", c.l, got, c.want)
		}
	}
}

// Under the journal every line starts with its priority and the rest is
// the unchanged JSON (or text) line; attrs and groups reach every level.
func TestJournalPrefixes(t *testing.T) {
	for _, asJSON := range []bool{true, false} {
		var buf bytes.Buffer
		log := buildLogger(&buf, asJSON, slog.LevelDebug, true).With("reader", "r1").WithGroup("g")
		log.Debug("d")
		log.Info("i")
		log.Warn("w")
		log.Error("e", "k", 1)
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		want := []string{"<7>", "<6>", "<4>", "<3>"}
		if len(lines) != len(want) {
			t.Fatalf("json=%v: %d lines, want %d: %q", asJSON, len(lines), len(want), buf.String())
		}
		for i, l := range lines {
			if !strings.HasPrefix(l, want[i]) {
				t.Errorf("json=%v line %d = %q, want prefix %s", asJSON, i, l, want[i])
			}
			rest := strings.TrimPrefix(l, want[i])
			if !strings.Contains(rest, "r1") {
				t.Errorf("json=%v line %d lost the reader attr: %q", asJSON, i, l)
			}
			if asJSON {
				var m map[string]any
				if err := json.Unmarshal([]byte(rest), &m); err != nil {
					t.Errorf("line %d after the prefix is not JSON: %v: %q", i, err, rest)
				}
			}
		}
	}
	// Not under the journal: no prefix; the level still filters.
	var buf bytes.Buffer
	log := buildLogger(&buf, true, slog.LevelWarn, false)
	log.Info("i")
	log.Warn("w")
	if s := buf.String(); strings.Contains(s, `"i"`) || !strings.HasPrefix(s, "{") {
		t.Errorf("plain logger wrote %q", s)
	}
	buf.Reset()
	log = buildLogger(&buf, true, slog.LevelWarn, true)
	log.Info("i")
	if buf.Len() != 0 {
		t.Errorf("journal logger at warn wrote an info line: %q", buf.String())
	}
}

// JOURNAL_STREAM names stderr's device:inode; a redirected stderr or a
// malformed value is not the journal.
func TestJournalStream(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	if !journalStream(f) {
		t.Error("matching JOURNAL_STREAM not recognised")
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1))
	if journalStream(f) {
		t.Error("another inode taken for the journal")
	}
	t.Setenv("JOURNAL_STREAM", "garbage")
	if journalStream(f) {
		t.Error("malformed JOURNAL_STREAM taken for the journal")
	}
}

// The built binary, as systemd starts it: stderr is the stream named by
// JOURNAL_STREAM, so a config error arrives as priority 3.
func TestBinaryErrorPriority(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	// Two config problems: two lines, each an error.
	cfg := filepath.Join(t.TempDir(), "gw.yaml")
	os.WriteFile(cfg, []byte("gateway: {id: x, data_dir: /tmp/x}\nedge: {dwel: 5s, lost_after: 60}\n"), 0o644)
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stderr = f
	cmd.Env = append(os.Environ(), fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
	_ = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "<3>rfidgw: ") {
		t.Fatalf("stderr under the journal = %q, want several lines, the first starting with <3>rfidgw: ", out)
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "<3>"+cfg+":") {
			t.Errorf("line %q of the error is not at priority 3", l)
		}
	}
}
