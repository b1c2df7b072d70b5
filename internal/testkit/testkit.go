// Package testkit holds what integration and end-to-end tests share: building
// the real binaries, an in-process Kafka-protocol broker (franz-go kfake) on a
// loopback port, reading a topic back with a franz-go consumer, free ports,
// and waiting on the gateway's /metrics. It is imported by tests only.
package testkit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// RepoRoot is the module root (found from this file's location).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binaries builds bin/rfidgw and bin/devkafka once per test process into a
// temporary directory and returns the paths.
func Binaries(t testing.TB) (rfidgw, devkafka string) {
	t.Helper()
	buildOnce.Do(func() {
		// Each test process builds its own copy (packages run in parallel);
		// copies left by earlier runs are removed once they are stale.
		if old, _ := filepath.Glob(filepath.Join(os.TempDir(), "rfidgw-bin-*")); len(old) > 0 {
			for _, d := range old {
				if st, err := os.Stat(d); err == nil && time.Since(st.ModTime()) > 2*time.Hour {
					os.RemoveAll(d)
				}
			}
		}
		buildDir, buildErr = os.MkdirTemp("", "rfidgw-bin-")
		if buildErr != nil {
			return
		}
		for _, b := range []struct{ out, pkg string }{{"rfidgw", "./cmd/rfidgw"}, {"devkafka", "./cmd/devkafka"}} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, b.out), b.pkg)
			cmd.Dir = RepoRoot()
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "rfidgw"), filepath.Join(buildDir, "devkafka")
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Kafka starts an in-process kfake broker on 127.0.0.1:port (0 = any) with
// the movement and status topics, and closes it at the end of the test.
func Kafka(t testing.TB, port int, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	if port == 0 {
		port = FreePort(t)
	}
	base := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, "127.0.0.1:"+strconv.Itoa(port))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.SeedTopics(3, "rfid.movements", "rfid.gateway-status"),
	}
	c, err := kfake.NewCluster(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Event is the part of an event JSON the tests look at.
type Event struct {
	Schema    int                    `json:"schema"`
	ID        string                 `json:"id"`
	Epoch     string                 `json:"epoch"`
	Seq       uint64                 `json:"seq"`
	Gateway   string                 `json:"gateway"`
	Type      string                 `json:"type"`
	EPC       *string                `json:"epc"`
	Zone      *string                `json:"zone"`
	From      *struct{ Zone string } `json:"from"`
	To        *struct{ Zone string } `json:"to"`
	Raw       json.RawMessage        `json:"-"`
	Key       string                 `json:"-"`
	Headers   map[string]string      `json:"-"`
	Partition int32                  `json:"-"`
	Offset    int64                  `json:"-"`
}

// Consume reads topic from the beginning until want events arrived or
// timeout passed, and returns what it got.
func Consume(t testing.TB, brokers, topic string, want int, timeout time.Duration) []Event {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []Event
	for len(out) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			var e Event
			if err := json.Unmarshal(r.Value, &e); err != nil {
				t.Errorf("message at %s/%d@%d is not an event: %v: %s", r.Topic, r.Partition, r.Offset, err, r.Value)
				return
			}
			e.Raw = append(json.RawMessage(nil), r.Value...)
			e.Key = string(r.Key)
			e.Partition, e.Offset = r.Partition, r.Offset
			e.Headers = map[string]string{}
			for _, h := range r.Headers {
				e.Headers[h.Key] = string(h.Value)
			}
			out = append(out, e)
		})
	}
	return out
}

// Metric scrapes url (a /metrics endpoint) and returns the value of the
// sample whose line starts with name (name may include labels).
func Metric(url, name string) (float64, bool) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[len(name):]), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// WaitFor polls cond every 50 ms until it holds or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// Process is a started binary with its output captured.
type Process struct {
	Cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	exited chan struct{}
	Err    error
}

// Start runs bin with args (env added to the environment), capturing stdout
// and stderr; the process is killed at the end of the test.
func Start(t testing.TB, env []string, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{Cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	p.Cmd.Env = append(os.Environ(), env...)
	w := writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.out.Write(b)
	})
	p.Cmd.Stdout, p.Cmd.Stderr = w, w
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.Err = p.Cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(bin), p.Output())
		}
	})
	return p
}

// Output is what the process printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Stop sends SIGTERM (or kills on timeout) and waits; it returns the exit error.
func (p *Process) Stop(t testing.TB, timeout time.Duration) error {
	t.Helper()
	p.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Errorf("%s did not stop within %s; killing it", p.Cmd.Path, timeout)
		p.Cmd.Process.Kill()
		<-p.exited
	}
	return p.Err
}

// Exited is closed when the process ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

var _ io.Writer = writerFunc(nil)
