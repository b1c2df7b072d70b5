package buffer

import (
	"github.com/prometheus/client_golang/prometheus"
	"os"
	"path/filepath"
	"testing"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustOpen(t *testing.T, dir string, opts Options) *Queue {
	t.Helper()
	q, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return q
}

// TestEpochLifecycle: a new data dir gets an epoch starting at seq 1 that
// survives restarts; a wiped dir gets another; a lost buffer.db gets a new
// epoch that starts above the seq ceiling.
func TestEpochLifecycle(t *testing.T) {
	dir := t.TempDir()
	q := mustOpen(t, dir, testOptions())
	e1 := q.Epoch()
	if !e1.New || e1.FirstSeq != 1 || !EpochPattern.MatchString(e1.ID) || e1.Reason != reasonNewDir {
		t.Fatalf("new dir: epoch %+v", e1)
	}
	appendN(t, q, 0, 10)
	q.Close()

	q = mustOpen(t, dir, testOptions())
	if e := q.Epoch(); e.ID != e1.ID || e.New || e.FirstSeq != 1 {
		t.Fatalf("restart: epoch %+v, want %s kept", e, e1.ID)
	}
	if got := q.EpochOf(5); got != e1.ID {
		t.Fatalf("EpochOf(5) = %s", got)
	}
	q.Close()

	// buffer.db lost, buffer.seq kept: a new epoch above the ceiling.
	os.Remove(filepath.Join(dir, dbFile))
	q = mustOpen(t, dir, testOptions())
	e2 := q.Epoch()
	if !e2.New || e2.ID == e1.ID || e2.FirstSeq < 1000 {
		t.Fatalf("lost buffer.db: epoch %+v", e2)
	}
	q.Close()

	// Wiped data dir: a new epoch from seq 1.
	os.RemoveAll(dir)
	q = mustOpen(t, dir, testOptions())
	defer q.Close()
	e3 := q.Epoch()
	if !e3.New || e3.ID == e1.ID || e3.ID == e2.ID || e3.FirstSeq != 1 {
		t.Fatalf("wiped dir: epoch %+v", e3)
	}
}

// TestEpochRestoredBackup: a buffer.db copied back from before the last stop
// would hand out seqs used before: a new epoch starts, and the records it
// still holds keep their old epoch (their ids do not change).
func TestEpochRestoredBackup(t *testing.T) {
	dir := t.TempDir()
	q := mustOpen(t, dir, testOptions())
	e1 := q.Epoch()
	appendN(t, q, 0, 5)
	q.Close()
	backup := filepath.Join(t.TempDir(), "buffer.db")
	copyFile(t, filepath.Join(dir, dbFile), backup)

	q = mustOpen(t, dir, testOptions())
	appendN(t, q, 5, 3) // seqs 6..8, delivered in the real world
	q.Close()
	copyFile(t, backup, filepath.Join(dir, dbFile))

	before := counterValue(t, metricsEpochs())
	q = mustOpen(t, dir, testOptions())
	defer q.Close()
	e2 := q.Epoch()
	if !e2.New || e2.ID == e1.ID || e2.FirstSeq != 6 {
		t.Fatalf("restored buffer.db: epoch %+v, want a new one from seq 6", e2)
	}
	if got := q.EpochOf(3); got != e1.ID {
		t.Fatalf("pending record 3 moved to epoch %s, want %s", got, e1.ID)
	}
	if got := q.EpochOf(6); got != e2.ID {
		t.Fatalf("seq 6 in epoch %s, want %s", got, e2.ID)
	}
	if after := counterValue(t, metricsEpochs()); after != before+1 {
		t.Fatalf("epochs started %v -> %v", before, after)
	}
}

// TestEpochOlderThanCeiling: without buffer.epoch (lost with the backup
// restore), a buffer.db whose last seq is far below buffer.seq's ceiling
// starts a new epoch too.
func TestEpochOlderThanCeiling(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.SeqBlock = 10
	q := mustOpen(t, dir, opts)
	e1 := q.Epoch()
	appendN(t, q, 0, 3)
	q.Close()
	backup := filepath.Join(t.TempDir(), "buffer.db")
	copyFile(t, filepath.Join(dir, dbFile), backup)
	q = mustOpen(t, dir, opts)
	for i := 0; i < 10; i++ {
		appendN(t, q, 3+i*10, 10) // the ceiling moves up with the seqs
	}
	q.Close()
	copyFile(t, backup, filepath.Join(dir, dbFile))
	os.Remove(filepath.Join(dir, epochFile))
	q = mustOpen(t, dir, opts)
	defer q.Close()
	if e := q.Epoch(); !e.New || e.ID == e1.ID || e.FirstSeq != 4 {
		t.Fatalf("buffer.db older than the ceiling: epoch %+v", e)
	}
}

func metricsEpochs() interface {
	Describe(chan<- *prometheus.Desc)
	Collect(chan<- prometheus.Metric)
} {
	return testMetrics.BufferEpochsStarted
}
