package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/gateway"
	"github.com/rfidgw/rfidgw/internal/testkit"
	"github.com/rfidgw/rfidgw/internal/testkit/powerfs"
)

// SIGTERM while the buffer refuses every commit (its disk fails each fsync
// with EIO) ends the daemon within gateway.StopTimeout, naming the events
// it could not keep; it used to retry forever and wait for systemd's
// SIGKILL.
func TestStopWhileCommitRetried(t *testing.T) {
	if err := powerfs.Available(); err != nil {
		t.Skip(err)
	}
	bin, _ := testkit.Binaries(t)
	kafka := testkit.Kafka(t, 0)
	brokers := kafka.ListenAddrs()[0]
	dir := t.TempDir()
	mnt, backing := filepath.Join(dir, "mnt"), filepath.Join(dir, "disk")
	os.MkdirAll(mnt, 0o755)
	os.MkdirAll(backing, 0o755)
	disk, err := powerfs.Mount(mnt, backing, powerfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := gatewayConfig(t, dir, demoReads(), brokers, testkit.FreePort(t))
	body, _ := os.ReadFile(cfg)
	s := strings.Replace(string(body), "data_dir: "+filepath.Join(dir, "data"), "data_dir: "+mnt, 1)
	s = strings.Replace(s, "speed: 0", "speed: 2", 1) // reads keep coming for about 2 minutes
	os.WriteFile(cfg, []byte(s), 0o644)

	gw := testkit.Start(t, nil, bin, "run", "--config", cfg, "--log-format", "text")
	t.Cleanup(func() {
		gw.Cmd.Process.Kill()
		<-gw.Exited()
		disk.Unmount()
	})
	testkit.WaitFor(t, 60*time.Second, "the gateway running", func() bool {
		return strings.Contains(gw.Output(), "gateway running")
	})
	disk.FailFsync(powerfs.Fault{Errno: syscall.EIO})
	testkit.WaitFor(t, 60*time.Second, "a commit being retried", func() bool {
		return strings.Contains(gw.Output(), "holding them and retrying")
	})
	start := time.Now()
	gw.Cmd.Process.Signal(syscall.SIGTERM)
	bound := gateway.StopTimeout + 5*time.Second // + process exit and a loaded box
	select {
	case <-gw.Exited():
	case <-time.After(bound):
		t.Fatalf("still running %v after SIGTERM (bound %v)", bound, gateway.StopTimeout)
	}
	took := time.Since(start)
	t.Logf("stopped %v after SIGTERM", took.Round(time.Millisecond))
	out := gw.Output()
	if !strings.Contains(out, "events lost at shutdown") {
		t.Errorf("the stop does not name the refused events; output:\n%s", out)
	}
	if took > gateway.CommitGrace+10*time.Second {
		t.Errorf("stop took %v, want about CommitGrace (%v)", took, gateway.CommitGrace)
	}
}
