package buffer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestCorruptFileMovedAside(t *testing.T) {
	random := make([]byte, 64<<10)
	_, _ = rand.Read(random)
	cases := map[string]func(t *testing.T, dir string) (minSeq uint64){
		"random bytes": func(t *testing.T, dir string) uint64 {
			return 1 + writeFile(t, filepath.Join(dir, dbFile), random)
		},
		"short text": func(t *testing.T, dir string) uint64 {
			return 1 + writeFile(t, filepath.Join(dir, dbFile), []byte("not a database\n"))
		},
		"bbolt file of someone else": func(t *testing.T, dir string) uint64 {
			db, err := bolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
			_ = db.Close()
			return 1
		},
		"buffer with both meta pages destroyed": func(t *testing.T, dir string) uint64 {
			q := openQueue(t, dir, testOptions())
			appendN(t, q, 0, 5)
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(filepath.Join(dir, dbFile), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.WriteAt(random[:8192], 0)
			_ = f.Close()
			return 6 // buffer.seq keeps ids from being reused
		},
	}
	for name, corrupt := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			minSeq := corrupt(t, dir)
			orig, err := os.ReadFile(filepath.Join(dir, dbFile))
			if err != nil {
				t.Fatal(err)
			}
			before := counterValue(t, testMetrics.BufferCorruptFiles)
			q := openQueue(t, dir, testOptions())
			if got := counterValue(t, testMetrics.BufferCorruptFiles) - before; got != 1 {
				t.Errorf("rfidgw_buffer_corrupt_files_total grew by %v, want 1", got)
			}
			aside, _ := filepath.Glob(filepath.Join(dir, dbFile+".corrupt-*"))
			if len(aside) != 1 {
				t.Fatalf("moved-aside files: %v", aside)
			}
			if kept, _ := os.ReadFile(aside[0]); !bytes.Equal(kept, orig) {
				t.Errorf("moved-aside file differs from the original (%d vs %d bytes)", len(kept), len(orig))
			}
			evs := appendN(t, q, 0, 3)
			if evs[0].Seq < minSeq {
				t.Errorf("new buffer starts at seq %d, want >= %d (no id reused)", evs[0].Seq, minSeq)
			}
			if recs := leaseAll(t, q); len(recs) != 3 {
				t.Errorf("new buffer holds %d records, want 3", len(recs))
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) uint64 {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return 0
}

func TestLockedFileNotMovedAside(t *testing.T) {
	dir := t.TempDir()
	openQueue(t, dir, testOptions())
	opts := testOptions()
	opts.LockTimeout = 50 * time.Millisecond
	if _, err := Open(dir, opts); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, dbFile+".corrupt-*")); len(aside) != 0 {
		t.Fatalf("a locked file was moved aside: %v", aside)
	}
	if _, err := ReadStats(dir); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "stop the daemon") {
		t.Errorf("ReadStats while open: %v, want ErrLocked telling to stop the daemon", err)
	}
	if err := Dump(dir, new(bytes.Buffer)); !errors.Is(err, ErrLocked) {
		t.Errorf("Dump while open: %v, want ErrLocked", err)
	}
}

// corruptRecord flips a byte of the JSON of record seq in a closed buffer.
func corruptRecord(t *testing.T, dir string, seq uint64) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		v := bytes.Clone(b.Get(seqKey(seq)))
		v[len(v)-10] ^= 0x20
		return b.Put(seqKey(seq), v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCorruptRecordDetected(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, testOptions())
	appendN(t, q, 0, 10)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	corruptRecord(t, dir, 5)

	var out bytes.Buffer
	err := Dump(dir, &out)
	if !errors.Is(err, ErrCorruptRecord) || !strings.Contains(err.Error(), "seq 5") || !strings.Contains(err.Error(), "CRC32C") {
		t.Errorf("Dump: %v, want a CRC error naming seq 5", err)
	}
	if n := strings.Count(out.String(), "\n"); n != 9 {
		t.Errorf("Dump wrote %d lines, want the 9 good records", n)
	}

	dropped0 := counterValue(t, testMetrics.EventsDropped)
	q = openQueue(t, dir, testOptions())
	recs := leaseAll(t, q)
	want := []uint64{1, 2, 3, 4, 6, 7, 8, 9, 10, 11}
	if !slices.Equal(seqsOf(recs), want) {
		t.Fatalf("leased %v, want %v (5 withheld, gap 11)", seqsOf(recs), want)
	}
	if g := parseGap(t, recs[9]); g.Dropped != 1 || g.FirstSeq != 5 || g.LastSeq != 5 {
		t.Errorf("gap for the corrupt record: %+v", g)
	}
	if got := counterValue(t, testMetrics.EventsDropped) - dropped0; got != 1 {
		t.Errorf("dropped counter grew by %v, want 1", got)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	// The bad record is kept in the corrupt bucket, out of the queue.
	db, err := bolt.Open(filepath.Join(dir, dbFile), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketCorrupt).Get(seqKey(5)) == nil || tx.Bucket(bucketEvents).Get(seqKey(5)) != nil {
			t.Errorf("corrupt record 5 not moved to the corrupt bucket")
		}
		return nil
	})
	_ = db.Close()
	if err := Dump(dir, new(bytes.Buffer)); err != nil {
		t.Errorf("Dump after quarantine: %v", err)
	}
}

func TestReadStatsAndDump(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadStats(dir); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadStats of an empty dir: %v, want ErrNotFound", err)
	}
	q := openQueue(t, dir, testOptions())
	evs := appendN(t, q, 0, 6)
	recs, _ := q.Lease(context.Background(), 2)
	_ = q.Ack(seqsOf(recs)...)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := ReadStats(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 4 || st.OldestSeq != 3 || st.NewestSeq != 6 || st.LastSeq != 6 || st.FileBytes <= 0 || st.OldestCommitted.IsZero() {
		t.Errorf("ReadStats = %+v", st)
	}
	var out bytes.Buffer
	if err := Dump(dir, &out); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for _, ev := range evs[2:] {
		want.Write(ev.AppendJSON(nil))
		want.WriteByte('\n')
	}
	if out.String() != want.String() {
		t.Errorf("Dump:\n%s\nwant:\n%s", out.String(), want.String())
	}
}

func TestCompactionGivesSpaceBack(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.CompactMinFileBytes = 1 << 20
	opts.CompactMaxEvents = 100
	q := openQueue(t, dir, opts)
	compactions0 := counterValue(t, testMetrics.BufferCompactions)
	for i := range 20 {
		appendN(t, q, i*1000, 1000)
	}
	big := q.Stats().FileBytes
	if big < 4<<20 {
		t.Fatalf("file only %d bytes after 20,000 events", big)
	}
	for {
		recs := leaseAll(t, q)
		if len(recs) == 0 {
			break
		}
		if err := q.Ack(seqsOf(recs)...); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "compaction", func() bool { return counterValue(t, testMetrics.BufferCompactions) > compactions0 })
	fi, err := os.Stat(filepath.Join(dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= big/4 {
		t.Errorf("file %d bytes after compaction, was %d", fi.Size(), big)
	}
	if e := appendN(t, q, 0, 1); e[0].Seq != 20001 {
		t.Errorf("seq after compaction %d, want 20001", e[0].Seq)
	}
	if recs := leaseAll(t, q); !slices.Equal(seqsOf(recs), []uint64{20001}) {
		t.Errorf("after compaction: %v", seqsOf(recs))
	}
}

// mountTmpfs mounts a small tmpfs at a new directory (root only).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs for a real full filesystem")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs (no CAP_SYS_ADMIN?): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

func TestDiskFullRefusesAndRecovers(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	filler := filepath.Join(dir, "filler")
	writeFile(t, filler, make([]byte, 1<<20))
	opts := testOptions()
	q := openQueue(t, dir, opts)
	errs0 := counterValue(t, testMetrics.BufferWriteErrors)
	ctx := context.Background()
	var committed []uint64
	var err error
	for i := 0; i < 1000; i++ {
		evs := testEvents(i*20, 20)
		if err = q.Append(ctx, evs, nil); err != nil {
			for _, e := range evs {
				if e.Seq != 0 {
					t.Fatalf("failed Append left seq %d on an event", e.Seq)
				}
			}
			break
		}
		for _, e := range evs {
			committed = append(committed, e.Seq)
		}
	}
	if !errors.Is(err, ErrWrite) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Append on a full disk: %v, want ErrWrite naming the full disk", err)
	}
	// The failed commit may have left a little room (a file growth step that
	// did not fit): take it, so that the probe cannot find the disk usable
	// again before the test frees space itself.
	rest := filepath.Join(dir, "filler-rest")
	if f, ferr := os.Create(rest); ferr == nil {
		chunk := make([]byte, 4<<10)
		for {
			if _, werr := f.Write(chunk); werr != nil {
				break
			}
		}
		f.Close()
	}
	// A probe that ran before the rest was taken may have fitted; with the
	// disk now full the next probe fails and readiness must stay off.
	waitFor(t, "not Ready with the disk full", func() bool { return q.Ready() != nil })
	for i := 0; i < 10; i++ {
		time.Sleep(2 * opts.TickInterval)
		if q.Ready() == nil {
			t.Fatal("Ready() is nil with the disk full")
		}
	}
	if got := counterValue(t, testMetrics.BufferWriteErrors) - errs0; got < 1 {
		t.Errorf("write errors counter grew by %v", got)
	}
	if err := q.Append(ctx, testEvents(0, 1), nil); !errors.Is(err, ErrWrite) {
		t.Errorf("Append while not ready: %v, want ErrWrite", err)
	}
	// Space returns: the probe finds out by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(rest)
	waitFor(t, "Ready after space returned", func() bool { return q.Ready() == nil })
	evs := appendN(t, q, 100000, 5)
	if evs[0].Seq != uint64(len(committed))+1 {
		t.Errorf("after recovery seq %d, want %d (failed appends use no seq)", evs[0].Seq, len(committed)+1)
	}
	recs := leaseAll(t, q)
	if want := seqRange(1, uint64(len(committed))+5); !slices.Equal(seqsOf(recs), want) {
		t.Errorf("after recovery the buffer holds %d records, want %d", len(recs), len(want))
	}
}

func TestMinFreeDiskBound(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	opts := testOptions()
	opts.OnFull = RejectNew
	opts.MinFreeDisk = 6 << 20
	q := openQueue(t, dir, opts)
	defer q.Close()
	var err error
	n := 0
	for ; n < 1000; n++ {
		if err = q.Append(context.Background(), testEvents(n*100, 100), nil); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Append near min_free_disk: %v, want ErrFull (not a write error)", err)
	}
	if err := q.Ready(); !errors.Is(err, ErrDiskFull) || errors.Is(err, ErrWrite) {
		t.Errorf("Ready at min_free_disk under reject_new: %v, want ErrDiskFull (events are refused by policy, writes work)", err)
	}
	free, _ := freeDisk(dir)
	if free < 4<<20 {
		t.Errorf("free space fell to %d bytes, min_free_disk is %d", free, opts.MinFreeDisk)
	}
	if n == 0 {
		t.Errorf("nothing fit")
	}
}

// If buffer.db disappears (deleted by hand), ids are still never reused:
// seqs continue above the ceiling kept in buffer.seq.
func TestMissingFileKeepsIDsUnique(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, testOptions())
	appendN(t, q, 0, 3)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, dbFile)); err != nil {
		t.Fatal(err)
	}
	q = openQueue(t, dir, testOptions())
	if e := appendN(t, q, 3, 1); e[0].Seq <= 3 {
		t.Fatalf("after losing buffer.db the next seq is %d: reuses an id", e[0].Seq)
	}
}

func TestMinFreeDiskDropOldest(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	opts := testOptions()
	opts.MinFreeDisk = 6 << 20
	q := openQueue(t, dir, opts)
	for n := range 200 {
		if err := q.Append(context.Background(), testEvents(n*100, 100), nil); err != nil {
			t.Fatalf("drop_oldest Append %d: %v", n, err)
		}
	}
	st := q.Stats()
	// About 2 MiB of room: thousands of the newest events stay, the oldest
	// went (not the whole buffer at each overflow).
	if st.PendingGap == 0 || st.Events < 2000 || st.NewestSeq != 20000 {
		t.Errorf("after overfilling the disk bound: %+v", st)
	}
	if free, _ := freeDisk(dir); free < 4<<20 {
		t.Errorf("free space fell to %d bytes, min_free_disk is %d", free, opts.MinFreeDisk)
	}
}

// Issue 23: while the filesystem is at min_free_disk the buffer loses events
// by policy; Ready says so (ErrDiskFull, Appends still succeed), the gap
// event is written as soon as the headroom is back, and Ready turns nil.
func TestDiskFullNotReadyWhileDropping(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	filler := filepath.Join(dir, "filler")
	writeFile(t, filler, make([]byte, 5<<20))
	opts := testOptions()
	opts.MinFreeDisk = 1 << 20
	q := openQueue(t, dir, opts)
	if err := q.Ready(); err != nil {
		t.Fatalf("Ready with room on the disk: %v", err)
	}
	var dropped bool
	for n := 0; n < 400 && !dropped; n++ {
		if err := q.Append(context.Background(), testEvents(n*100, 100), nil); err != nil {
			t.Fatalf("drop_oldest Append %d at min_free_disk: %v (must keep working)", n, err)
		}
		dropped = q.Stats().PendingGap > 0
	}
	if !dropped {
		t.Fatal("the disk bound never made the buffer drop")
	}
	err := q.Ready()
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "drop_oldest") {
		t.Fatalf("Ready while dropping at min_free_disk: %v, want ErrDiskFull naming the policy", err)
	}
	if st := q.Stats(); st.DiskFull == "" || st.ReadyErr != "" {
		t.Errorf("Stats while dropping at min_free_disk: DiskFull %q, ReadyErr %q", st.DiskFull, st.ReadyErr)
	}
	// Still not ready a few ticks later (no flapping back while full).
	time.Sleep(10 * opts.TickInterval)
	if err := q.Ready(); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Ready flipped back while the disk is still full: %v", err)
	}
	// Space returns: without any new Append, Ready turns nil and the gap
	// event is written.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Ready after space returned", func() bool { return q.Ready() == nil })
	waitFor(t, "gap event after space returned", func() bool { return q.Stats().PendingGap == 0 })
	recs := leaseAll(t, q)
	if len(recs) == 0 || recs[len(recs)-1].Type != "gap" {
		t.Fatalf("last record after space returned: %v, want the gap event", recs[len(recs)-1:])
	}
}
