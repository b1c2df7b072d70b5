// Package powerfs is a FUSE file system for tests that can lose power.
//
// It serves one flat directory whose durable state is a real directory (the
// backing directory): what a power cut would leave is exactly what is in
// there. Everything not yet made durable lives in a volatile layer in memory:
//
//   - file data (writes, truncates) until the file is fsync'd or
//     fdatasync'd: then its dirty pages are written to the backing file;
//   - creates, renames and unlinks until the directory is fsync'd: then they
//     are applied to the backing directory, in order. (A created file whose
//     name is not durable yet keeps its fsync'd data in a hidden stash and
//     is gone after a power cut.)
//
// Cut simulates the power cut: from then on every change fails with EIO
// (reads still work, so a mapped file does not fault), and the volatile
// layer is thrown away; with CutOptions.Tear a random subset of the
// unsynced pages and a prefix of the unsynced directory changes reach the
// disk first, one page torn at a 512-byte sector, as a disk that reorders
// and tears writes would leave them. Unmount, then Mount the same backing
// directory again to "reboot".
//
// Faults: fsync fails with EIO once or until cleared (the file's unsynced
// pages are then dropped, as the kernel may drop them after a failed
// write-back); writes fail with ENOSPC once the files would exceed a given
// total size (statfs reports that size); fsync can be slowed down.
//
// Limits: one directory level (no subdirectories), regular files only, no
// hard links, symlinks, xattrs or fallocate (EOPNOTSUPP). For tests only:
// nothing of it is part of the rfidgw binary.
package powerfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

const (
	pageSize   = 4096
	sectorSize = 512
	stashDir   = ".powerfs" // fsync'd data of files whose name is not durable
)

// Available says why FUSE cannot be used here (nil when it can): the
// tests skip with that reason.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("powerfs needs root to mount FUSE with DirectMount")
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("powerfs needs /dev/fuse: %w", err)
	}
	f.Close()
	return nil
}

// Options of a mount.
type Options struct {
	// SyncBacking also fsyncs the backing files and directory when the
	// data becomes durable. The simulation does not need it (the backing
	// directory is the simulated disk); it makes a real power cut of the
	// test machine safe too.
	SyncBacking bool
}

// FS is one mount.
type FS struct {
	backing, mountpoint string
	opts                Options
	server              *fuse.Server
	root                *dirNode

	mu      sync.Mutex
	dead    bool // power is cut: changes fail with EIO
	nextID  uint64
	names   map[string]*file // the live directory
	pending []nsOp           // directory changes not yet durable

	// faults
	fault      Fault
	fsyncErrs  int // fsyncs failed so far
	spaceLimit int64
	fsyncDelay time.Duration
	syncs      int // fsyncs that made data durable (files and directory)
}

type file struct {
	id       uint64
	size     int64            // live size
	dsize    int64            // durable size (of the backing file)
	zeroFrom int64            // live bytes at or above this read as zero unless dirty (a truncate since the last fsync)
	dirty    map[int64][]byte // page index -> live page
	lost     map[int64][]byte // pages of a failed fsync the cache kept (Fault.KeepCache): read, never written
	backing  string           // path of the durable data ("" none yet)
	inode    *fs.Inode
}

type nsKind int

const (
	opCreate nsKind = iota
	opRename
	opUnlink
)

type nsOp struct {
	kind          nsKind
	name, newName string
	f             *file
	replaced      *file // rename over an existing name: one atomic change
}

// Mount mounts a new FS at mountpoint over backing (both directories must
// exist). Leftovers of a power cut (the stash) are removed first.
func Mount(mountpoint, backing string, opts Options) (*FS, error) {
	if err := os.RemoveAll(filepath.Join(backing, stashDir)); err != nil {
		return nil, fmt.Errorf("powerfs: clear stash: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(backing, stashDir), 0o700); err != nil {
		return nil, fmt.Errorf("powerfs: stash: %w", err)
	}
	p := &FS{backing: backing, mountpoint: mountpoint, opts: opts, names: map[string]*file{}}
	ents, err := os.ReadDir(backing)
	if err != nil {
		return nil, fmt.Errorf("powerfs: read backing directory: %w", err)
	}
	for _, e := range ents {
		if e.Name() == stashDir {
			continue
		}
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("powerfs: %s: only regular files are supported", e.Name())
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		p.nextID++
		path := filepath.Join(backing, e.Name())
		p.names[e.Name()] = &file{id: p.nextID, size: fi.Size(), dsize: fi.Size(), zeroFrom: fi.Size(), backing: path}
	}
	p.root = &dirNode{p: p}
	sec := time.Second
	p.server, err = fs.Mount(mountpoint, p.root, &fs.Options{
		MountOptions: fuse.MountOptions{DirectMount: true, FsName: "powerfs", Name: "powerfs", MaxWrite: 128 << 10},
		EntryTimeout: &sec,
		AttrTimeout:  &sec,
	})
	if err != nil {
		return nil, fmt.Errorf("powerfs: mount %s: %w", mountpoint, err)
	}
	return p, nil
}

// Unmount unmounts, lazily if something still holds a file open (the
// process serving it should then exit: the open files then fail with
// ENOTCONN).
func (p *FS) Unmount() error {
	err := p.server.Unmount()
	if err != nil {
		if out, lerr := exec.Command("umount", "-l", p.mountpoint).CombinedOutput(); lerr != nil {
			return fmt.Errorf("powerfs: unmount %s: %w; umount -l: %v: %s", p.mountpoint, err, lerr, out)
		}
	}
	return nil
}

// CutOptions shape a power cut.
type CutOptions struct {
	// Tear, when set, lets each unsynced page reach the disk with
	// probability 1/2 (one of them torn at a sector boundary) and a random
	// prefix of the unsynced directory changes, before the rest is lost.
	Tear *rand.Rand
}

// CutStats say what a cut threw away.
type CutStats struct {
	LostPages, KeptPages, LostDirOps, KeptDirOps int
	Torn                                         bool
}

// Cut cuts the power: every later change fails with EIO and the volatile
// layer is dropped (the backing directory holds what survived).
func (p *FS) Cut(o CutOptions) (CutStats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var st CutStats
	if p.dead {
		return st, nil
	}
	p.dead = true
	var errs []error
	if o.Tear != nil {
		n := o.Tear.Intn(len(p.pending) + 1)
		for _, op := range p.pending[:n] {
			errs = append(errs, p.applyOp(op))
		}
		st.KeptDirOps, st.LostDirOps = n, len(p.pending)-n
		tornDone := false
		for _, f := range p.files() {
			idx := sortedPages(f.dirty)
			var keep []int64
			for _, i := range idx {
				if o.Tear.Intn(2) == 0 {
					keep = append(keep, i)
				}
			}
			st.KeptPages += len(keep)
			st.LostPages += len(idx) - len(keep)
			if len(keep) == 0 || f.backing == "" {
				continue
			}
			errs = append(errs, p.tear(f, keep, &tornDone, o.Tear))
		}
		st.Torn = tornDone
	} else {
		st.LostDirOps = len(p.pending)
		for _, f := range p.files() {
			st.LostPages += len(f.dirty)
		}
	}
	p.pending = nil
	return st, errors.Join(errs...)
}

// tear writes the pages keep of f to its backing file, the last one cut at
// a random sector unless a page was torn already.
func (p *FS) tear(f *file, keep []int64, tornDone *bool, rng *rand.Rand) error {
	bf, err := os.OpenFile(f.backing, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer bf.Close()
	for k, i := range keep {
		pg := f.dirty[i]
		n := int64(len(pg))
		if end := f.size - i*pageSize; end < n {
			n = max(0, end)
		}
		if k == len(keep)-1 && !*tornDone && n > sectorSize {
			n = int64(1+rng.Intn(int(n/sectorSize)-1)) * sectorSize
			*tornDone = true
		}
		if _, err := bf.WriteAt(pg[:n], i*pageSize); err != nil {
			return err
		}
	}
	return nil
}

// Fault is an fsync fault.
type Fault struct {
	Errno syscall.Errno // 0: none
	Once  bool          // fail one fsync, else every one until ClearFaults
	Skip  int           // let this many matching fsyncs succeed first
	Dir   bool          // only fsyncs of the directory
	Files bool          // only fsyncs of files
	// KeepCache: the failing file's unsynced pages stay readable (as the
	// Linux page cache keeps them after a failed write-back, marked clean)
	// but are never written and are gone after a cut. Without it they are
	// dropped at once (reads return the durable content).
	KeepCache bool
}

// FailFsync sets the fsync fault.
func (p *FS) FailFsync(f Fault) {
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
}

// LimitSpace makes writes fail with ENOSPC once the files would hold more
// than n bytes in all (0: no limit); statfs reports that size.
func (p *FS) LimitSpace(n int64) {
	p.mu.Lock()
	p.spaceLimit = n
	p.mu.Unlock()
}

// SlowFsync delays every fsync by d.
func (p *FS) SlowFsync(d time.Duration) {
	p.mu.Lock()
	p.fsyncDelay = d
	p.mu.Unlock()
}

// ClearFaults removes every fault.
func (p *FS) ClearFaults() {
	p.mu.Lock()
	p.fault, p.spaceLimit, p.fsyncDelay = Fault{}, 0, 0
	p.mu.Unlock()
}

// FsyncErrors is how many fsyncs failed by FailFsync; Syncs how many made
// data durable.
func (p *FS) FsyncErrors() int { p.mu.Lock(); defer p.mu.Unlock(); return p.fsyncErrs }

// Syncs is how many fsyncs (of files and of the directory) succeeded.
func (p *FS) Syncs() int { p.mu.Lock(); defer p.mu.Unlock(); return p.syncs }

// Used is the live size of all files.
func (p *FS) Used() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.usedLocked()
}

func (p *FS) usedLocked() int64 {
	var n int64
	for _, f := range p.files() {
		n += f.size
	}
	return n
}

// files returns every live file and every file an unsynced change still
// refers to.
func (p *FS) files() []*file {
	seen := map[*file]bool{}
	var out []*file
	add := func(f *file) {
		if f != nil && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, f := range p.names {
		add(f)
	}
	for _, op := range p.pending {
		add(op.f)
		add(op.replaced)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func sortedPages(m map[int64][]byte) []int64 {
	idx := make([]int64, 0, len(m))
	for i := range m {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	return idx
}

// fsyncFault applies the fsync faults to an fsync of the directory or a
// file; p.mu held (released while sleeping).
func (p *FS) fsyncFault(dir bool) syscall.Errno {
	if d := p.fsyncDelay; d > 0 {
		p.mu.Unlock()
		time.Sleep(d)
		p.mu.Lock()
	}
	if p.dead {
		return syscall.EIO
	}
	f := &p.fault
	if f.Errno == 0 || (f.Dir && !dir) || (f.Files && dir) {
		return 0
	}
	if f.Skip > 0 {
		f.Skip--
		return 0
	}
	e := f.Errno
	if f.Once {
		f.Errno = 0
	}
	p.fsyncErrs++
	return e
}

// ---- file data ----

// readAt fills b from the live content of f at off (b within size).
func (p *FS) readAt(f *file, b []byte, off int64) error {
	clear(b)
	// Durable part below min(dsize, zeroFrom).
	lim := min(f.dsize, f.zeroFrom)
	if off < lim && f.backing != "" {
		n := min(int64(len(b)), lim-off)
		bf, err := os.Open(f.backing)
		if err != nil {
			return err
		}
		_, err = bf.ReadAt(b[:n], off)
		bf.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	for i := off / pageSize; i*pageSize < off+int64(len(b)); i++ {
		pg, ok := f.dirty[i]
		if !ok {
			pg, ok = f.lost[i]
		}
		if !ok {
			continue
		}
		ps := i * pageSize
		from, to := max(off, ps), min(off+int64(len(b)), ps+pageSize)
		copy(b[from-off:to-off], pg[from-ps:to-ps])
	}
	return nil
}

// page returns the live page i of f, made dirty.
func (p *FS) page(f *file, i int64) ([]byte, error) {
	if pg, ok := f.dirty[i]; ok {
		return pg, nil
	}
	pg := make([]byte, pageSize)
	if i*pageSize < f.size {
		n := min(int64(pageSize), f.size-i*pageSize)
		if err := p.readAt(f, pg[:n], i*pageSize); err != nil {
			return nil, err
		}
	}
	if f.dirty == nil {
		f.dirty = map[int64][]byte{}
	}
	f.dirty[i] = pg
	delete(f.lost, i) // rewritten: dirty again, written by the next fsync
	return pg, nil
}

func (p *FS) write(f *file, data []byte, off int64) syscall.Errno {
	if p.dead {
		return syscall.EIO
	}
	end := off + int64(len(data))
	if grow := end - f.size; grow > 0 && p.spaceLimit > 0 && p.usedLocked()+grow > p.spaceLimit {
		return syscall.ENOSPC
	}
	for i := off / pageSize; i*pageSize < end; i++ {
		pg, err := p.page(f, i)
		if err != nil {
			return syscall.EIO
		}
		ps := i * pageSize
		from, to := max(off, ps), min(end, ps+pageSize)
		copy(pg[from-ps:to-ps], data[from-off:to-off])
	}
	f.size = max(f.size, end)
	return 0
}

func (p *FS) truncate(f *file, n int64) syscall.Errno {
	if p.dead {
		return syscall.EIO
	}
	if grow := n - f.size; grow > 0 && p.spaceLimit > 0 && p.usedLocked()+grow > p.spaceLimit {
		return syscall.ENOSPC
	}
	if n < f.size {
		for i := range f.dirty {
			if i*pageSize >= n {
				delete(f.dirty, i)
			}
		}
		for i := range f.lost {
			if i*pageSize >= n {
				delete(f.lost, i)
			}
		}
		if n%pageSize != 0 {
			pg, err := p.page(f, n/pageSize)
			if err != nil {
				return syscall.EIO
			}
			clear(pg[n%pageSize:])
		}
	}
	f.zeroFrom = min(f.zeroFrom, n, f.size)
	f.size = n
	return 0
}

// fsyncFile makes f's data durable.
func (p *FS) fsyncFile(f *file) syscall.Errno {
	if p.dead {
		return syscall.EIO
	}
	if e := p.fsyncFault(false); e != 0 {
		if !p.dead {
			p.failWriteback(f)
		}
		return e
	}
	if len(f.dirty) == 0 && f.zeroFrom >= f.dsize && f.size == f.dsize {
		p.syncs++
		return 0
	}
	if f.backing == "" {
		f.backing = filepath.Join(p.backing, stashDir, strconv.FormatUint(f.id, 10))
	}
	bf, err := os.OpenFile(f.backing, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return syscall.EIO
	}
	defer bf.Close()
	if f.zeroFrom < f.dsize {
		if err := bf.Truncate(f.zeroFrom); err != nil {
			return syscall.EIO
		}
	}
	for _, i := range sortedPages(f.dirty) {
		pg := f.dirty[i]
		n := min(int64(pageSize), f.size-i*pageSize)
		if n <= 0 {
			continue
		}
		if _, err := bf.WriteAt(pg[:n], i*pageSize); err != nil {
			return syscall.EIO
		}
	}
	if err := bf.Truncate(f.size); err != nil {
		return syscall.EIO
	}
	if p.opts.SyncBacking {
		if err := bf.Sync(); err != nil {
			return syscall.EIO
		}
	}
	f.dirty, f.dsize, f.zeroFrom = nil, f.size, f.size
	p.syncs++
	return 0
}

// failWriteback handles f's failed fsync: its unsynced pages are never
// written; with KeepCache they stay readable until a cut, else they are
// dropped and the kernel is told to forget its cached pages.
func (p *FS) failWriteback(f *file) {
	if p.fault.KeepCache {
		if f.lost == nil {
			f.lost = map[int64][]byte{}
		}
		for i, pg := range f.dirty {
			f.lost[i] = pg
		}
		f.dirty = nil
		return
	}
	f.dirty, f.lost = nil, nil
	f.size, f.zeroFrom = f.dsize, f.dsize
	if in := f.inode; in != nil {
		go in.NotifyContent(0, 0) // not from inside the request
	}
}

// ---- directory ----

func (p *FS) applyOp(op nsOp) error {
	switch op.kind {
	case opCreate:
		dst := filepath.Join(p.backing, op.name)
		if op.f.backing != "" {
			if err := os.Rename(op.f.backing, dst); err != nil {
				return err
			}
		} else {
			bf, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			bf.Close()
			op.f.dsize = 0
			op.f.zeroFrom = 0
		}
		op.f.backing = dst
	case opRename:
		dst := filepath.Join(p.backing, op.newName)
		if r := op.replaced; r != nil && r.backing == dst {
			stash := filepath.Join(p.backing, stashDir, strconv.FormatUint(r.id, 10))
			if err := os.Rename(dst, stash); err != nil {
				return err
			}
			r.backing = stash
		}
		if err := os.Rename(op.f.backing, dst); err != nil {
			return err
		}
		op.f.backing = dst
	case opUnlink:
		stash := filepath.Join(p.backing, stashDir, strconv.FormatUint(op.f.id, 10))
		if err := os.Rename(op.f.backing, stash); err != nil {
			return err
		}
		op.f.backing = stash
	}
	return nil
}

func (p *FS) fsyncDir() syscall.Errno {
	if p.dead {
		return syscall.EIO
	}
	if e := p.fsyncFault(true); e != 0 {
		return e // the changes stay pending: a later fsync may succeed
	}
	for len(p.pending) > 0 {
		op := p.pending[0]
		if err := p.applyOp(op); err != nil {
			return syscall.EIO
		}
		p.pending = p.pending[1:]
	}
	if p.opts.SyncBacking {
		if d, err := os.Open(p.backing); err == nil {
			d.Sync()
			d.Close()
		}
	}
	p.syncs++
	return 0
}

// ---- FUSE nodes ----

type dirNode struct {
	fs.Inode
	p *FS
}

var (
	_ fs.NodeLookuper  = (*dirNode)(nil)
	_ fs.NodeCreater   = (*dirNode)(nil)
	_ fs.NodeUnlinker  = (*dirNode)(nil)
	_ fs.NodeRenamer   = (*dirNode)(nil)
	_ fs.NodeReaddirer = (*dirNode)(nil)
	_ fs.NodeGetattrer = (*dirNode)(nil)
	_ fs.NodeFsyncer   = (*dirNode)(nil)
	_ fs.NodeStatfser  = (*dirNode)(nil)
)

func (d *dirNode) child(ctx context.Context, f *file, out *fuse.EntryOut) *fs.Inode {
	n := &fileNode{p: d.p, f: f}
	in := d.NewInode(ctx, n, fs.StableAttr{Mode: syscall.S_IFREG, Ino: f.id + 1})
	f.inode = in
	fillAttr(f, &out.Attr)
	return in
}

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	f, ok := d.p.names[name]
	if !ok || name == stashDir {
		return nil, syscall.ENOENT
	}
	return d.child(ctx, f, out), 0
}

func (d *dirNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	p := d.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return nil, nil, 0, syscall.EIO
	}
	if name == stashDir {
		return nil, nil, 0, syscall.EPERM
	}
	if f, ok := p.names[name]; ok {
		if flags&syscall.O_EXCL != 0 {
			return nil, nil, 0, syscall.EEXIST
		}
		if flags&syscall.O_TRUNC != 0 {
			if e := p.truncate(f, 0); e != 0 {
				return nil, nil, 0, e
			}
		}
		return d.child(ctx, f, out), nil, 0, 0
	}
	p.nextID++
	f := &file{id: p.nextID}
	p.names[name] = f
	p.pending = append(p.pending, nsOp{kind: opCreate, name: name, f: f})
	return d.child(ctx, f, out), nil, 0, 0
}

func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	p := d.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return syscall.EIO
	}
	f, ok := p.names[name]
	if !ok {
		return syscall.ENOENT
	}
	delete(p.names, name)
	p.pending = append(p.pending, nsOp{kind: opUnlink, name: name, f: f})
	return 0
}

func (d *dirNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	p := d.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return syscall.EIO
	}
	if newParent.EmbeddedInode() != d.EmbeddedInode() || flags != 0 {
		return syscall.EXDEV
	}
	f, ok := p.names[name]
	if !ok {
		return syscall.ENOENT
	}
	if name == newName {
		return 0
	}
	old := p.names[newName] // replaced atomically with the rename
	delete(p.names, name)
	p.names[newName] = f
	p.pending = append(p.pending, nsOp{kind: opRename, name: name, newName: newName, f: f, replaced: old})
	return 0
}

func (d *dirNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	var ents []fuse.DirEntry
	for name, f := range d.p.names {
		ents = append(ents, fuse.DirEntry{Name: name, Mode: syscall.S_IFREG, Ino: f.id + 1})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
	return fs.NewListDirStream(ents), 0
}

func (d *dirNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o755
	out.Nlink = 2
	out.Ino = 1
	return 0
}

func (d *dirNode) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	return d.p.fsyncDir()
}

func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var s syscall.Statfs_t
	if err := syscall.Statfs(d.p.backing, &s); err != nil {
		return fs.ToErrno(err)
	}
	out.FromStatfsT(&s)
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	if lim := d.p.spaceLimit; lim > 0 {
		out.Bsize = pageSize
		out.Frsize = pageSize
		out.Blocks = uint64(lim / pageSize)
		free := uint64(max(0, lim-d.p.usedLocked()) / pageSize)
		out.Bfree, out.Bavail = free, free
	}
	return 0
}

type fileNode struct {
	fs.Inode
	p *FS
	f *file
}

var (
	_ fs.NodeOpener    = (*fileNode)(nil)
	_ fs.NodeReader    = (*fileNode)(nil)
	_ fs.NodeWriter    = (*fileNode)(nil)
	_ fs.NodeGetattrer = (*fileNode)(nil)
	_ fs.NodeSetattrer = (*fileNode)(nil)
	_ fs.NodeFsyncer   = (*fileNode)(nil)
	_ fs.NodeAllocater = (*fileNode)(nil)
	_ fs.NodeFlusher   = (*fileNode)(nil)
)

func fillAttr(f *file, a *fuse.Attr) {
	a.Mode = syscall.S_IFREG | 0o600
	a.Size = uint64(f.size)
	a.Blocks = uint64((f.size + 511) / 512)
	a.Blksize = pageSize
	a.Nlink = 1
	a.Ino = f.id + 1
}

func (n *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_TRUNC != 0 {
		n.p.mu.Lock()
		defer n.p.mu.Unlock()
		if e := n.p.truncate(n.f, 0); e != 0 {
			return nil, 0, e
		}
	}
	return nil, 0, 0
}

func (n *fileNode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n.p.mu.Lock()
	defer n.p.mu.Unlock()
	if off >= n.f.size {
		return fuse.ReadResultData(nil), 0
	}
	b := dest[:min(int64(len(dest)), n.f.size-off)]
	if err := n.p.readAt(n.f, b, off); err != nil {
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(b), 0
}

func (n *fileNode) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	n.p.mu.Lock()
	defer n.p.mu.Unlock()
	if e := n.p.write(n.f, data, off); e != 0 {
		return 0, e
	}
	return uint32(len(data)), 0
}

func (n *fileNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.p.mu.Lock()
	defer n.p.mu.Unlock()
	fillAttr(n.f, &out.Attr)
	return 0
}

func (n *fileNode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.p.mu.Lock()
	defer n.p.mu.Unlock()
	if sz, ok := in.GetSize(); ok {
		if e := n.p.truncate(n.f, int64(sz)); e != 0 {
			return e
		}
	}
	fillAttr(n.f, &out.Attr)
	return 0
}

func (n *fileNode) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	n.p.mu.Lock()
	defer n.p.mu.Unlock()
	return n.p.fsyncFile(n.f)
}

func (n *fileNode) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno { return 0 }

func (n *fileNode) Allocate(ctx context.Context, fh fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	return syscall.EOPNOTSUPP
}
