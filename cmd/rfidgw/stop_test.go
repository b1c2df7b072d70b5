package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/gateway"
	"github.com/rfidgw/rfidgw/internal/testkit"
)

// SIGTERM while the buffer refuses a commit (here: an EPC far longer than a
// bbolt key, which the buffer can never store) ends the daemon within
// gateway.StopTimeout, saying which events it could not keep; it used to
// retry forever and wait for systemd's SIGKILL.
//
// If the buffer learns to store or drop such an event (issue 15 item 3),
// this test needs another way to make a commit fail: it checks first that
// the commit is being retried.
func TestStopWhileCommitRetried(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	kafka := testkit.Kafka(t, 0)
	brokers := kafka.ListenAddrs()[0]
	dir := t.TempDir()
	// The demo floor, plus every read of one tag again under an EPC of
	// 40,000 hex digits.
	huge := strings.Repeat("AB", 20000)
	in, err := os.Open(demoReads())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		b.WriteString(line + "\n")
		if strings.Contains(line, "3034DF296FDCCF04CFA7C017") {
			b.WriteString(strings.Replace(line, "3034DF296FDCCF04CFA7C017", huge, 1) + "\n")
		}
	}
	in.Close()
	reads := filepath.Join(dir, "reads.jsonl")
	if err := os.WriteFile(reads, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := gatewayConfig(t, dir, reads, brokers, testkit.FreePort(t))
	gw := testkit.Start(t, nil, bin, "run", "--config", cfg, "--log-format", "text")
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
	if !strings.Contains(out, "events lost at shutdown") || !strings.Contains(out, "gateway stopped") {
		t.Errorf("no clean stop that names the refused events; output:\n%s", out)
	}
	if gw.Err != nil {
		t.Errorf("exit: %v", gw.Err)
	}
	if took > gateway.CommitGrace+10*time.Second {
		t.Errorf("stop took %v, want about CommitGrace (%v)", took, gateway.CommitGrace)
	}
}
