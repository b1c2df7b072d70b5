package edge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

func recordedReads(n int) []reader.Read {
	reads := make([]reader.Read, 0, n)
	for i := range n {
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		if i%100 == 50 {
			st := reader.StatusOffline
			if i%200 == 150 {
				st = reader.StatusOnline
			}
			reads = append(reads, reader.StatusRead(at, "rack-row-a", st))
			continue
		}
		reads = append(reads, reader.Read{Time: at, Reader: "rack-row-a", Antenna: i%4 + 1,
			EPC: fmt.Sprintf("3034%020X", i%37), RSSI: -50 - float64(i%20)/2})
	}
	return reads
}

// readBack parses files in order and returns their reads.
func readBack(t *testing.T, paths ...string) []reader.Read {
	t.Helper()
	var out []reader.Read
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for line := 1; sc.Scan(); line++ {
			r, err := reader.ParseRead(sc.Bytes())
			if err != nil {
				t.Fatalf("%s:%d: %v", p, line, err)
			}
			out = append(out, r)
		}
	}
	return out
}

func TestRecorderRotatesWithinMaxBytes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reads.jsonl")
	const maxBytes = 64 << 10
	rec, err := NewRecorder(path, maxBytes, RecordFiles(4), RecordLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	reads := recordedReads(3000) // ~300 KB: rotates many times
	for i := range reads {
		if err := rec.Write(&reads[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Write(&reads[0]); !errors.Is(err, ErrRecorderClosed) {
		t.Errorf("Write after Close = %v, want ErrRecorderClosed", err)
	}
	files := []string{path + ".3", path + ".2", path + ".1", path}
	var total int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatalf("rotated file missing: %v", err)
		}
		if st.Size() > maxBytes/4 {
			t.Errorf("%s has %d bytes, more than max_bytes/files = %d", f, st.Size(), maxBytes/4)
		}
		total += st.Size()
	}
	if total > maxBytes {
		t.Errorf("files hold %d bytes, more than max_bytes %d", total, maxBytes)
	}
	if _, err := os.Stat(path + ".4"); !os.IsNotExist(err) {
		t.Errorf("%s.4 exists: only 4 files may be kept", path)
	}
	// The files, oldest first, are exactly the newest reads, in order.
	got := readBack(t, files...)
	want := reads[len(reads)-len(got):]
	if len(got) < 400 { // ~117 B a line in 64 KiB
		t.Fatalf("only %d reads kept in %d bytes", len(got), total)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("read %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRecorderAppendsAndFlushesBySecond(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reads.jsonl")
	reads := recordedReads(300) // 3 s of reads
	rec, err := NewRecorder(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range reads[:150] {
		if err := rec.Write(&reads[i]); err != nil {
			t.Fatal(err)
		}
	}
	// The first read is flushed at once, then once a second of read time:
	// at 1.0 s (read 100); reads 101..149 are still buffered.
	if got := readBack(t, path); len(got) != 101 {
		t.Errorf("%d reads on disk before Close, want 101 (flushed once a second of read time)", len(got))
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	rec, err = NewRecorder(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range reads[150:] {
		if err := rec.Write(&reads[150+i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, path); len(got) != len(reads) {
		t.Fatalf("%d reads after reopening, want %d appended", len(got), len(reads))
	}
}

func TestRecorderSurvivesWriteErrors(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "rec")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "reads.jsonl")
	rec, err := NewRecorder(path, 8*4096, RecordLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	reads := recordedReads(6000) // 60 s of reads
	// The directory vanishes: the next rotation cannot open the file.
	if err := os.RemoveAll(sub); err != nil {
		t.Fatal(err)
	}
	errs := 0
	for i := range reads[:1000] {
		if rec.Write(&reads[i]) != nil {
			errs++
		}
	}
	if errs != 1 {
		t.Errorf("%d errors returned, want 1 (the first failure only)", errs)
	}
	if rec.Dropped() == 0 {
		t.Error("no reads counted as dropped")
	}
	// It comes back: recording resumes within 10 s of read time.
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range reads[1000:] {
		if err := rec.Write(&reads[1000+i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, path); len(got) == 0 || got[len(got)-1] != reads[len(reads)-1] {
		t.Errorf("recording did not resume after the directory came back (%d reads in %s)", len(got), path)
	}
}

func TestNewRecorderRejectsBadSettings(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		path string
		max  int64
		opts []RecorderOption
	}{
		{"", 0, nil},
		{filepath.Join(dir, "r"), 1000, nil},
		{filepath.Join(dir, "r"), 1 << 20, []RecorderOption{RecordFiles(1)}},
	} {
		if _, err := NewRecorder(c.path, c.max, c.opts...); !errors.Is(err, ErrBadConfig) {
			t.Errorf("NewRecorder(%q, %d) = %v, want ErrBadConfig", c.path, c.max, err)
		}
	}
	if _, err := NewRecorder(filepath.Join(dir, "missing", "r"), 0); err == nil {
		t.Error("NewRecorder in a missing directory succeeded")
	}
}

func BenchmarkRecorderWrite(b *testing.B) {
	rec, err := NewRecorder(filepath.Join(b.TempDir(), "reads.jsonl"), 1<<30)
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	reads := recordedReads(1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := reads[i%len(reads)]
		r.Time = t0.Add(time.Duration(i) * time.Millisecond)
		if err := rec.Write(&r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
