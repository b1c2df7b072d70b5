package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/rfidgw/rfidgw/internal/testkit"
)

// `rfidgw tail --config` connects as the daemon does: the brokers, topic and
// librdkafka SASL settings (password file) of uplink.kafka. Without them the
// broker refuses tail; a hole no gap event explains makes --fail-on-holes
// exit 1.
func TestTailWithDaemonConfig(t *testing.T) {
	t.Parallel()
	bin, _ := testkit.Binaries(t)
	kafka := testkit.Kafka(t, 0, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "gw-tail", "s3cret"))
	addr := kafka.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("rfid.movements"),
		kgo.SASL(scram.Auth{User: "gw-tail", Pass: "s3cret"}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, seq := range []int{1, 2, 4} { // 3 is missing
		r := &kgo.Record{Key: []byte(fmt.Sprintf("EPC%d", seq)), Value: fmt.Appendf(nil,
			`{"schema":1,"id":"tailgw-00000001000000aa-%d","epoch":"00000001000000aa","seq":%d,"gateway":"tailgw","type":"inward"}`, seq, seq)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	pw := filepath.Join(dir, "kafka.password")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	cfg := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`gateway: {id: tailgw, data_dir: "%s"}
readers:
  - {id: rack-row-a, type: llrp, address: "127.0.0.1:1"}
zones:
  - {id: rack-A01, kind: rack, antennas: [{reader: rack-row-a, antennas: [1]}]}
uplink:
  kafka:
    brokers: ["%s"]
    sasl_password_file: "%s"
    librdkafka: {security.protocol: sasl_plaintext, sasl.mechanism: SCRAM-SHA-256, sasl.username: gw-tail}
`, filepath.Join(dir, "data"), addr, pw)), 0o644)

	cmd := exec.Command(bin, "tail", "--config", cfg, "--from-beginning", "--count", "3", "--hole-grace", "100ms", "--fail-on-holes")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("tail --fail-on-holes over a hole: %v, want exit 1; stderr:\n%s", err, stderr.String())
	}
	if n := strings.Count(stdout.String(), `"gateway":"tailgw"`); n != 3 {
		t.Errorf("%d events printed, want 3:\n%s", n, stdout.String())
	}
	if want := "HOLE gateway=tailgw epoch=00000001000000aa seq=3..3 missing=1"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}

	// Without the config's credentials the broker refuses tail.
	out, err := exec.Command(bin, "tail", "--brokers", addr, "--from-beginning", "--count", "1").CombinedOutput()
	if err == nil {
		t.Errorf("tail without SASL settings succeeded:\n%s", out)
	}
	t.Logf("without credentials: %v: %s", err, lastLines(string(out), 3))
}
