package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/testkit"
)

// A password in an MQTT broker URL (tcp://user:pw@host) is never printed:
// not by `check` (ok or FAIL line), not by the daemon's log, not in a
// config error. It used to be in every MQTT log line and in check.
func TestCredentialsNeverPrinted(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	kafka := testkit.Kafka(t, 0)
	dir := t.TempDir()
	const pw = "hunter2-s3cret"
	// Nothing listens there: the reader fails and says so, with its URL.
	broker := fmt.Sprintf("tcp://gw:%s@127.0.0.1:%d", pw, testkit.FreePort(t))
	write := func(name, brokerURL, extra string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(fmt.Sprintf(`gateway: {id: secrets, data_dir: "%s"}
readers:
  - {id: r1, type: mqtt, broker: "%s", topic: readers/r1/events, format: impinj}
zones:
  - {id: rack-A01, kind: rack, antennas: [{reader: r1, antennas: [1]}]}
uplink: {kafka: {brokers: ["%s"]%s}}
`, filepath.Join(dir, "data"), brokerURL, kafka.ListenAddrs()[0], extra)), 0o644)
		return p
	}
	cfg := write("gw.yaml", broker, "")
	check, _ := exec.Command(bin, "check", "--config", cfg, "--timeout", "3s").CombinedOutput()
	// A config error quoting the URL (no host).
	bad, _ := exec.Command(bin, "check", "--config", write("bad.yaml", "tcp://gw:"+pw+"@", "")).CombinedOutput()

	gw := testkit.Start(t, nil, bin, "run", "--config", cfg, "--log-format", "json")
	testkit.WaitFor(t, 30*time.Second, "the reader's failure in the log", func() bool {
		return strings.Contains(gw.Output(), "127.0.0.1") && strings.Contains(gw.Output(), "r1")
	})
	time.Sleep(2 * time.Second)
	gw.Stop(t, 25*time.Second)
	for what, out := range map[string]string{"check": string(check), "config error": string(bad), "run log": gw.Output()} {
		if strings.Contains(out, pw) {
			t.Errorf("%s prints the password:\n%s", what, out)
		}
		if !strings.Contains(out, "127.0.0.1") && !strings.Contains(out, "readers[0].broker") {
			t.Errorf("%s does not name the broker at all:\n%s", what, out)
		}
	}
}
