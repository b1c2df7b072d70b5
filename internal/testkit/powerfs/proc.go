package powerfs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The FUSE server must not share a process with a program that maps a file
// of the mount (bbolt does): a page fault on the mapping blocks a thread
// that Go's garbage collector then waits for, while the server goroutines
// that would answer the fault wait for the collector. So tests run the
// server in a child process: the test binary itself, started with
// childEnv set, whose TestMain calls ServeChild first. Proc is the
// parent's handle; it speaks a line protocol over the child's stdin/stdout.

const (
	childEnv        = "POWERFS_CHILD_MOUNT" // the mountpoint
	childBackingEnv = "POWERFS_CHILD_BACKING"
)

// ServeChild serves a mount and exits when the process is a powerfs child;
// otherwise it returns at once. Call it first in TestMain.
func ServeChild() {
	mnt := os.Getenv(childEnv)
	if mnt == "" {
		return
	}
	os.Exit(serve(mnt, os.Getenv(childBackingEnv), os.Stdin, os.Stdout))
}

func serve(mnt, backing string, in io.Reader, out io.Writer) int {
	p, err := Mount(mnt, backing, Options{})
	if err != nil {
		fmt.Fprintf(out, "err %v\n", err)
		return 1
	}
	signal.Ignore(syscall.SIGINT) // the parent stops it through stdin
	fmt.Fprintln(out, "ok ready")
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		reply, err := p.command(f)
		if err != nil {
			fmt.Fprintf(out, "err %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Fprintf(out, "ok %s\n", reply)
		if f[0] == "exit" {
			return 0
		}
	}
	_, _ = p.Cut(CutOptions{})
	_ = p.Unmount()
	return 0
}

func (p *FS) command(f []string) (string, error) {
	arg := func(i int) int64 {
		if i >= len(f) {
			return 0
		}
		v, _ := strconv.ParseInt(f[i], 10, 64)
		return v
	}
	switch f[0] {
	case "cut":
		o := CutOptions{}
		if seed := arg(1); seed != 0 {
			o.Tear = rand.New(rand.NewSource(seed))
		}
		st, err := p.Cut(o)
		b, _ := json.Marshal(st)
		return string(b), err
	case "fail-fsync": // errno once skip dir files keep
		p.FailFsync(Fault{Errno: syscall.Errno(arg(1)), Once: arg(2) != 0, Skip: int(arg(3)),
			Dir: arg(4) != 0, Files: arg(5) != 0, KeepCache: arg(6) != 0})
	case "limit":
		p.LimitSpace(arg(1))
	case "slow":
		p.SlowFsync(time.Duration(arg(1)))
	case "clear":
		p.ClearFaults()
	case "stats":
		return fmt.Sprintf("%d %d %d", p.Syncs(), p.FsyncErrors(), p.Used()), nil
	case "exit":
		if err := p.Unmount(); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("unknown command %q", f[0])
	}
	return "", nil
}

// Proc is a mount served by a child process.
type Proc struct {
	Mountpoint, Backing string
	cmd                 *exec.Cmd
	in                  io.WriteCloser
	out                 *bufio.Reader
	stderr              strings.Builder
	stopped             bool
}

// Start mounts backing at mountpoint in a child process (the test binary;
// its TestMain must call ServeChild). Check Available first.
func Start(mountpoint, backing string) (*Proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &Proc{Mountpoint: mountpoint, Backing: backing}
	c.cmd = exec.Command(exe, "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childEnv+"="+mountpoint, childBackingEnv+"="+backing)
	c.cmd.Stderr = &c.stderr
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.out = bufio.NewReader(stdout)
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	if _, err := c.reply(); err != nil {
		_ = c.cmd.Wait()
		return nil, fmt.Errorf("powerfs: mount %s: %w (stderr: %s)", mountpoint, err, c.stderr.String())
	}
	return c, nil
}

func (c *Proc) reply() (string, error) {
	line, err := c.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("powerfs child: %w", err)
	}
	line = strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(line, "ok"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", errors.New(strings.TrimPrefix(line, "err "))
}

func (c *Proc) do(format string, args ...any) (string, error) {
	if _, err := fmt.Fprintf(c.in, format+"\n", args...); err != nil {
		return "", fmt.Errorf("powerfs child: %w", err)
	}
	return c.reply()
}

// Cut cuts the power (see FS.Cut); tearSeed != 0 tears with that seed.
func (c *Proc) Cut(tearSeed int64) (CutStats, error) {
	var st CutStats
	r, err := c.do("cut %d", tearSeed)
	if r != "" {
		_ = json.Unmarshal([]byte(r), &st)
	}
	return st, err
}

// FailFsync: see FS.FailFsync.
func (c *Proc) FailFsync(f Fault) error {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	_, err := c.do("fail-fsync %d %d %d %d %d %d", int(f.Errno), b(f.Once), f.Skip, b(f.Dir), b(f.Files), b(f.KeepCache))
	return err
}

// LimitSpace: see FS.LimitSpace.
func (c *Proc) LimitSpace(n int64) error { _, err := c.do("limit %d", n); return err }

// SlowFsync: see FS.SlowFsync.
func (c *Proc) SlowFsync(d time.Duration) error { _, err := c.do("slow %d", int64(d)); return err }

// ClearFaults: see FS.ClearFaults.
func (c *Proc) ClearFaults() error { _, err := c.do("clear"); return err }

// Stats returns the successful fsyncs, the failed ones and the bytes used.
func (c *Proc) Stats() (syncs, fsyncErrs int, used int64, err error) {
	r, err := c.do("stats")
	if err == nil {
		_, err = fmt.Sscan(r, &syncs, &fsyncErrs, &used)
	}
	return
}

// Stop unmounts and waits for the child. Whatever still has a file of the
// mount open must be closed first (else the unmount is lazy).
func (c *Proc) Stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	done := make(chan error, 1)
	go func() { _, err := c.do("exit"); done <- err }()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		err = fmt.Errorf("powerfs child did not unmount %s within 20 s; killed", c.Mountpoint)
		_ = c.cmd.Process.Kill()
	}
	_ = c.in.Close()
	werr := c.cmd.Wait()
	if err == nil && werr != nil {
		err = fmt.Errorf("powerfs child: %w (stderr: %s)", werr, c.stderr.String())
	}
	return err
}
