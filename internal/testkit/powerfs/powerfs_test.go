package powerfs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestMain(m *testing.M) {
	ServeChild()
	os.Exit(m.Run())
}

// mount mounts a fresh FS in a child process (skipping without FUSE) and
// returns it with its mountpoint and backing directory; the cleanup
// unmounts it.
func mount(t *testing.T) (*Proc, string, string) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
	backing, mnt := t.TempDir(), t.TempDir()
	p, err := Start(mnt, backing)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	return p, mnt, backing
}

// reboot cuts the power (tearing with seed unless 0), unmounts and mounts
// the backing directory again.
func reboot(t *testing.T, p *Proc, mnt, backing string, seed int64) *Proc {
	t.Helper()
	if _, err := p.Cut(seed); err != nil {
		t.Fatalf("cut: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	np, err := Start(mnt, backing)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = np.Stop() })
	return np
}

func write(t *testing.T, path string, b []byte, fsync bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if fsync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func syncDir(t *testing.T, dir string) {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatalf("fsync dir: %v", err)
	}
}

func TestVolatileLayer(t *testing.T) {
	p, mnt, backing := mount(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 3000) // 48,000 bytes: several pages

	write(t, filepath.Join(mnt, "durable"), big, true)
	syncDir(t, mnt)
	write(t, filepath.Join(mnt, "unsynced-data"), []byte("x"), false)
	syncDir(t, mnt) // name durable, data not
	// durable's second half rewritten without fsync.
	f, err := os.OpenFile(filepath.Join(mnt, "durable"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("Z"), 20000), 20000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Reads see the live state.
	if got, _ := os.ReadFile(filepath.Join(mnt, "durable")); !bytes.Equal(got[20000:40000], bytes.Repeat([]byte("Z"), 20000)) {
		t.Fatal("live read does not see the unsynced write")
	}
	// Write-temp, fsync, rename; no directory fsync.
	write(t, filepath.Join(mnt, "seq.tmp"), []byte("new"), true)
	write(t, filepath.Join(mnt, "seq"), []byte("old"), true)
	syncDir(t, mnt)
	write(t, filepath.Join(mnt, "seq.tmp"), []byte("new"), true)
	if err := os.Rename(filepath.Join(mnt, "seq.tmp"), filepath.Join(mnt, "seq")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(mnt, "seq")); string(got) != "new" {
		t.Fatalf("live seq = %q", got)
	}
	write(t, filepath.Join(mnt, "unsynced-name"), []byte("y"), true)

	p = reboot(t, p, mnt, backing, 0)
	if got, _ := os.ReadFile(filepath.Join(mnt, "durable")); !bytes.Equal(got, big) {
		t.Errorf("fsync'd file after the cut differs (%d bytes, want %d): the unsynced rewrite survived", len(got), len(big))
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "unsynced-data")); err != nil || len(got) != 0 {
		t.Errorf("file whose name was synced but not its data: %q, %v; want empty", got, err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "unsynced-name")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file created without a directory fsync survived the cut: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(mnt, "seq")); string(got) != "old" {
		t.Errorf("rename without a directory fsync survived the cut: seq = %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(mnt, "seq.tmp")); string(got) != "new" {
		t.Errorf("seq.tmp after the cut = %q, want the fsync'd \"new\"", got)
	}

	// Now with the directory fsync the rename is durable.
	if err := os.Rename(filepath.Join(mnt, "seq.tmp"), filepath.Join(mnt, "seq")); err != nil {
		t.Fatal(err)
	}
	syncDir(t, mnt)
	p = reboot(t, p, mnt, backing, 0)
	if got, _ := os.ReadFile(filepath.Join(mnt, "seq")); string(got) != "new" {
		t.Errorf("rename + directory fsync did not survive: seq = %q", got)
	}
	if _, err := os.Stat(filepath.Join(mnt, "seq.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("seq.tmp still there after a durable rename: %v", err)
	}
	_ = p
}

func TestTruncateAndExtend(t *testing.T) {
	p, mnt, backing := mount(t)
	path := filepath.Join(mnt, "f")
	write(t, path, bytes.Repeat([]byte{0xAA}, 10000), true)
	syncDir(t, mnt)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(5000); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(9000); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 9000)
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Repeat([]byte{0xAA}, 5000), make([]byte, 4000)...)
	if !bytes.Equal(got, want) {
		t.Fatal("truncate down then up does not read zeros in the extension")
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p = reboot(t, p, mnt, backing, 0)
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Errorf("after fsync and cut: %d bytes, content differs", len(got))
	}
	_ = p
}

func TestFsyncFaults(t *testing.T) {
	p, mnt, backing := mount(t)
	path := filepath.Join(mnt, "f")
	write(t, path, []byte("durable"), true)
	syncDir(t, mnt)

	p.FailFsync(Fault{Errno: syscall.EIO, Once: true})
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("LOST!!!"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("fsync with the EIO fault: %v", err)
	}
	// The failed write-back dropped the pages: the file reads durable again.
	if got, _ := os.ReadFile(path); string(got) != "durable" {
		t.Errorf("after a failed fsync the file reads %q, want the durable content", got)
	}
	if err := f.Sync(); err != nil {
		t.Errorf("second fsync (fault was once): %v", err)
	}
	f.Close()

	// Until cleared.
	p.FailFsync(Fault{Errno: syscall.EIO})
	for i := 0; i < 3; i++ {
		d, _ := os.Open(mnt)
		if err := d.Sync(); !errors.Is(err, syscall.EIO) {
			t.Errorf("directory fsync %d with the persistent fault: %v", i, err)
		}
		d.Close()
	}
	p.ClearFaults()
	syncDir(t, mnt)

	// KeepCache: the failed pages stay readable, but a cut loses them.
	p.FailFsync(Fault{Errno: syscall.EIO, Once: true, KeepCache: true})
	f, err = os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("CACHED!"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("fsync with the EIO fault: %v", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync after the failed one: %v", err)
	}
	f.Close()
	if got, _ := os.ReadFile(path); string(got) != "CACHED!" {
		t.Errorf("KeepCache: after a failed fsync the file reads %q, want the cached write", got)
	}
	p = reboot(t, p, mnt, backing, 0)
	if got, _ := os.ReadFile(path); string(got) != "durable" {
		t.Errorf("KeepCache: after the cut the file reads %q, want the durable content", got)
	}

	// ENOSPC from a byte count, and statfs says so.
	_, _, used, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	p.LimitSpace(used + 8192)
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free > 8192 || free < 4096 {
		t.Errorf("statfs free = %d with 8 KiB left", free)
	}
	g, err := os.Create(filepath.Join(mnt, "g"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Write(make([]byte, 8000)); err != nil {
		t.Fatalf("write within the limit: %v", err)
	}
	if _, err := g.Write(make([]byte, 8000)); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("write beyond the limit: %v, want ENOSPC", err)
	}
	g.Close()
	p.ClearFaults()
	_ = reboot(t, p, mnt, backing, 0)
}

// bbolt's own expectations with no fault: open, commit, close, reopen; and
// every committed transaction survives a power cut, torn or not.
func TestBoltOnPowerFS(t *testing.T) {
	p, mnt, backing := mount(t)
	path := filepath.Join(mnt, "bolt.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bbolt open on powerfs: %v", err)
	}
	syncDir(t, mnt) // bbolt does not fsync the directory of a new file
	put := func(db *bolt.DB, from, to int) {
		t.Helper()
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			for i := from; i < to; i++ {
				if err := b.Put([]byte(fmt.Sprintf("k%06d", i)), bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("bbolt commit on powerfs: %v", err)
		}
	}
	check := func(db *bolt.DB, n int) {
		t.Helper()
		err := db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("b"))
			if b == nil {
				return errors.New("bucket missing")
			}
			if got := b.Stats().KeyN; got != n {
				return fmt.Errorf("%d keys, want %d", got, n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		put(db, i*500, (i+1)*500)
	}
	check(db, 10000)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = bolt.Open(path, 0o600, nil); err != nil {
		t.Fatalf("bbolt reopen: %v", err)
	}
	check(db, 10000)

	rng := rand.New(rand.NewSource(1))
	n := 10000
	for cut := 0; cut < 10; cut++ {
		put(db, n, n+300)
		n += 300
		db.Close()
		seed := int64(0)
		if cut%2 == 1 {
			seed = rng.Int63()
		}
		p = reboot(t, p, mnt, backing, seed)
		if db, err = bolt.Open(path, 0o600, nil); err != nil {
			t.Fatalf("cut %d: bbolt open after the cut: %v", cut, err)
		}
		check(db, n)
		if err := db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		}); err != nil {
			t.Fatalf("cut %d: bbolt check: %v", cut, err)
		}
	}
	db.Close()
}

// A rename over an existing name is one change: whatever part of the
// unsynced directory changes a torn cut keeps, the name holds the old or
// the new file, never nothing.
func TestRenameAtomicUnderTornCuts(t *testing.T) {
	p, mnt, backing := mount(t)
	seq := filepath.Join(mnt, "seq")
	write(t, seq, []byte("old"), true)
	syncDir(t, mnt)
	seen := map[string]int{}
	for i := int64(1); i <= 20; i++ {
		write(t, filepath.Join(mnt, "other"), []byte("x"), true) // an unsynced create before
		write(t, seq+".tmp", []byte("new"), true)
		if err := os.Rename(seq+".tmp", seq); err != nil {
			t.Fatal(err)
		}
		p = reboot(t, p, mnt, backing, i)
		got, err := os.ReadFile(seq)
		if err != nil || (string(got) != "old" && string(got) != "new") {
			t.Fatalf("torn cut %d: seq = %q, %v; want old or new", i, got, err)
		}
		seen[string(got)]++
		// Back to the old content, durably.
		write(t, seq, []byte("old"), true)
		_ = os.Remove(seq + ".tmp")
		_ = os.Remove(filepath.Join(mnt, "other"))
		syncDir(t, mnt)
	}
	t.Logf("after 20 torn cuts seq held: %v", seen)
	if seen["old"] == 0 || seen["new"] == 0 {
		t.Errorf("the torn cuts never kept (or never dropped) the rename: %v", seen)
	}
}
