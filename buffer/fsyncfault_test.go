package buffer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/testkit/powerfs"
)

// Failed fsync, ENOSPC and a failing directory fsync (issue 16 item 4), on
// powerfs: after a failed fsync the data must not be assumed durable; the
// buffer settles the commit from disk, answers its caller truthfully, and a
// power cut afterwards must find every acknowledged event exactly once.

type faultRig struct {
	t            *testing.T
	p            *powerfs.Proc
	q            *Queue
	mnt, backing string
	opts         Options
	acked        []string // EPCs of the Appends that returned nil, in order
	holesOK      bool     // the test acked (deleted) some seqs
	next         int
}

func newFaultRig(t *testing.T, opts Options) *faultRig {
	t.Helper()
	if err := powerfs.Available(); err != nil {
		t.Skip(err)
	}
	r := &faultRig{t: t, mnt: t.TempDir(), backing: t.TempDir(), opts: opts}
	r.start()
	t.Cleanup(func() {
		if r.q != nil {
			_ = r.q.Close()
		}
		_ = r.p.Stop()
	})
	return r
}

func (r *faultRig) start() {
	r.t.Helper()
	p, err := powerfs.Start(r.mnt, r.backing)
	if err != nil {
		r.t.Fatal(err)
	}
	r.p = p
	if r.q, err = Open(r.mnt, r.opts); err != nil {
		r.t.Fatalf("open on powerfs: %v", err)
	}
}

// appendOne appends n events with a state change and returns the error.
func (r *faultRig) appendOne(n int) ([]string, error) {
	evs := testEvents(r.next*10, n)
	var epcs []string
	for i := range evs {
		evs[i].EPC = fmt.Sprintf("F%08dX%d", r.next, i)
		epcs = append(epcs, evs[i].EPC)
	}
	st := []StateChange{{Key: []byte("last"), Value: []byte(epcs[0])}}
	r.next++
	err := r.q.Append(context.Background(), evs, st)
	if err == nil {
		r.acked = append(r.acked, epcs...)
	}
	return epcs, err
}

func (r *faultRig) mustAppend(n int) {
	r.t.Helper()
	if _, err := r.appendOne(n); err != nil {
		r.t.Fatalf("Append: %v", err)
	}
}

// retry appends the same events again until they are accepted (what the
// gateway's commit loop does with ErrWrite).
func (r *faultRig) retry(epcs []string) {
	r.t.Helper()
	waitFor(r.t, "Ready after the fault was cleared", func() bool { return r.q.Ready() == nil })
	evs := testEvents(0, len(epcs))
	for i := range evs {
		evs[i].EPC = epcs[i]
	}
	if err := r.q.Append(context.Background(), evs, []StateChange{{Key: []byte("last"), Value: []byte(epcs[0])}}); err != nil {
		r.t.Fatalf("retry: %v", err)
	}
	r.acked = append(r.acked, epcs...)
}

// cutAndCheck cuts the power, reboots, reopens and checks that the buffer
// holds every acknowledged event exactly once with seqs 1..n in order, and
// the edge state of the last one.
func (r *faultRig) cutAndCheck() {
	r.t.Helper()
	if _, err := r.p.Cut(0); err != nil {
		r.t.Fatal(err)
	}
	_ = r.q.Close()
	r.q = nil
	if err := r.p.Stop(); err != nil {
		r.t.Fatal(err)
	}
	r.start()
	recs := leaseAll(r.t, r.q)
	r.q.Rewind()
	var got []string
	var prev uint64
	for i, rec := range recs {
		got = append(got, string(rec.Key))
		if rec.Seq <= prev || (!r.holesOK && rec.Seq != uint64(i+1)) {
			r.t.Errorf("after the cut record %d has seq %d after %d: seqs must be 1..n without holes or repeats", i, rec.Seq, prev)
		}
		prev = rec.Seq
	}
	if !slices.Equal(got, r.acked) {
		r.t.Fatalf("after the cut the buffer holds %d events, want the %d acknowledged ones exactly once, in order:\n got  %v\n want %v\n stats %+v",
			len(got), len(r.acked), got, r.acked, r.q.Stats())
	}
	state := map[string]string{}
	_ = r.q.LoadState(func(k, v []byte) { state[string(k)] = string(v) })
	if len(r.acked) > 0 && state["last"] == "" {
		r.t.Errorf("edge state lost after the cut")
	}
}

func TestFailedFsync(t *testing.T) {
	cases := []struct {
		name   string
		fault  powerfs.Fault
		stored bool // the failed commit turns out durable: Append returns nil
	}{
		{"data fsync EIO, pages dropped", powerfs.Fault{Errno: syscall.EIO, Once: true, Files: true}, false},
		{"meta fsync EIO, pages dropped", powerfs.Fault{Errno: syscall.EIO, Once: true, Files: true, Skip: 1}, false},
		{"data fsync EIO, cache kept", powerfs.Fault{Errno: syscall.EIO, Once: true, Files: true, KeepCache: true}, false},
		// The meta page stays visible in the cache: the buffer must not trust
		// it until a second commit made it durable, then accept the events.
		{"meta fsync EIO, cache kept", powerfs.Fault{Errno: syscall.EIO, Once: true, Files: true, Skip: 1, KeepCache: true}, true},
		{"data fsync ENOSPC", powerfs.Fault{Errno: syscall.ENOSPC, Once: true, Files: true}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newFaultRig(t, testOptions())
			r.mustAppend(5)
			if err := r.p.FailFsync(c.fault); err != nil {
				t.Fatal(err)
			}
			epcs, err := r.appendOne(3)
			_, ferrs, _, _ := r.p.Stats()
			if ferrs != 1 {
				t.Fatalf("the fault failed %d fsyncs, want 1", ferrs)
			}
			switch {
			case c.stored && err != nil:
				t.Fatalf("Append whose failed commit is durable after all: %v, want nil", err)
			case !c.stored && !errors.Is(err, ErrWrite):
				t.Fatalf("Append whose commit failed: %v, want ErrWrite", err)
			case !c.stored:
				r.retry(epcs)
			}
			r.mustAppend(2)
			r.cutAndCheck()
		})
	}
}

func TestFailedFsyncUntilCleared(t *testing.T) {
	r := newFaultRig(t, testOptions())
	r.mustAppend(4)
	if err := r.p.FailFsync(powerfs.Fault{Errno: syscall.EIO}); err != nil {
		t.Fatal(err)
	}
	epcs, err := r.appendOne(3)
	if !errors.Is(err, ErrWrite) {
		t.Fatalf("Append with every fsync failing: %v, want ErrWrite", err)
	}
	// Several probes fail meanwhile: not ready the whole time, new events
	// refused, stored ones still delivered.
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r.q.Ready() == nil {
			t.Fatal("Ready while every fsync fails")
		}
	}
	if _, err := r.appendOne(1); !errors.Is(err, ErrWrite) {
		t.Fatalf("Append while not ready: %v, want ErrWrite", err)
	}
	r.next-- // not stored; retried below under the same EPCs
	if recs := leaseAll(t, r.q); len(recs) != 4 {
		t.Errorf("stored events still delivered while writes fail: leased %d, want 4", len(recs))
	}
	r.q.Rewind()
	if err := r.p.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	r.retry(epcs)
	r.cutAndCheck()
}

func TestFailedWriteENOSPC(t *testing.T) {
	r := newFaultRig(t, testOptions())
	r.mustAppend(4)
	_, _, used, err := r.p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.p.LimitSpace(used + 4096); err != nil {
		t.Fatal(err)
	}
	var failed []string
	for i := 0; i < 200; i++ {
		epcs, err := r.appendOne(50)
		if err != nil {
			if !errors.Is(err, ErrWrite) {
				t.Fatalf("Append on a full powerfs: %v, want ErrWrite", err)
			}
			failed = epcs
			break
		}
	}
	if failed == nil {
		t.Fatal("the space limit never made an Append fail")
	}
	if r.q.Ready() == nil {
		t.Error("Ready with the file system full")
	}
	if err := r.p.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	r.retry(failed)
	r.cutAndCheck()
}

// Compaction under fsync faults: a failing copy leaves the file as it is; a
// failing directory fsync after the rename holds every commit until it
// succeeds (otherwise a cut brings the old file back without them).
func TestFailedFsyncDuringCompaction(t *testing.T) {
	opts := testOptions()
	opts.CompactMinFileBytes = 32 << 10
	opts.compactEvery = 10 * time.Millisecond
	r := newFaultRig(t, opts)
	r.holesOK = true
	r.mustAppend(5)
	// A backlog delivered: the file is big and nearly empty.
	big := testEvents(1000, 400)
	if err := r.q.Append(context.Background(), big, nil); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, rec := range leaseAll(t, r.q) {
		if rec.Seq > 5 {
			seqs = append(seqs, rec.Seq)
		}
	}
	r.q.Rewind()
	before := r.q.Stats().FileBytes
	if err := r.p.FailFsync(powerfs.Fault{Errno: syscall.EIO, Files: true}); err != nil {
		t.Fatal(err)
	}
	c0 := counterValue(t, testMetrics.BufferCompactions)
	if err := r.q.Ack(seqs...); err != nil {
		t.Fatal(err)
	}
	// The ack commit fails too; the copy fails: nothing compacted, nothing lost.
	time.Sleep(300 * time.Millisecond)
	if got := counterValue(t, testMetrics.BufferCompactions) - c0; got != 0 {
		t.Fatalf("%v compactions while every file fsync fails", got)
	}
	// Now only the directory fsync fails: the copy and the rename happen,
	// the rename is not durable.
	if err := r.p.FailFsync(powerfs.Fault{Errno: syscall.EIO, Dir: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a compaction attempt whose directory fsync failed", func() bool {
		_, ferrs, _, _ := r.p.Stats()
		return ferrs > 0 && r.q.Ready() != nil && r.q.Stats().Events == 5
	})
	if _, err := r.appendOne(3); !errors.Is(err, ErrWrite) {
		t.Fatalf("Append while the compacted file's name is not durable: %v, want ErrWrite", err)
	}
	r.next--
	if err := r.p.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Ready after the directory fsync works again", func() bool { return r.q.Ready() == nil })
	r.mustAppend(3)
	r.cutAndCheck()
	if after := r.q.Stats().FileBytes; after >= before {
		t.Errorf("no compaction happened: file %d bytes before, %d after", before, after)
	}
}
