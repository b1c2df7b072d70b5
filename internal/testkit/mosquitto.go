package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Mosquitto is a real mosquitto broker on a loopback port with persistence,
// started for one test.
type Mosquitto struct {
	t    testing.TB
	URL  string // tcp://127.0.0.1:port
	Addr string // 127.0.0.1:port
	conf string
	bin  string
	cmd  *exec.Cmd
}

// StartMosquitto starts mosquitto (anonymous, persistent sessions without a
// queue limit) or skips the test naming the missing package.
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, c := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, err := os.Stat(c); err == nil {
				bin = c
			}
		}
		if bin == "" {
			t.Skip("mosquitto not installed (make test installs it as root: apt-get install -y mosquitto)")
		}
	}
	dir := t.TempDir()
	port := FreePort(t)
	m := &Mosquitto{t: t, bin: bin, URL: fmt.Sprintf("tcp://127.0.0.1:%d", port), Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	conf := fmt.Sprintf("per_listener_settings false\npersistence true\npersistence_location %s/\nmax_queued_messages 0\n"+
		"allow_anonymous true\nlog_dest stderr\nlog_type error\nlistener %d 127.0.0.1\n", dir, port)
	if os.Geteuid() == 0 {
		conf += "user root\n"
	}
	m.conf = filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Start (re)starts the broker and waits until it accepts connections.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, "-c", m.conf)
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", m.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("mosquitto did not listen on %s", m.Addr)
}

// Stop stops the broker (SIGTERM: it saves its persistent sessions).
func (m *Mosquitto) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	m.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-done
	}
	m.cmd = nil
}
