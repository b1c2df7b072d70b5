package hub

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The hub config is loaded strictly and every value is bounded, with the
// key in the message.
func TestConfigLoadStrict(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "hub.yaml")
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	cfg, err := Load(write("hub:\n  brokers: [k1:9092]\n  hole_timeout: 2m\n"))
	if err != nil || time.Duration(cfg.HoleTimeout) != 2*time.Minute || cfg.Topic != DefaultTopic || cfg.Validate() != nil {
		t.Fatalf("good file: %+v %v", cfg, err)
	}
	for body, want := range map[string]string{
		"hub:\n  brokerz: [k1:9092]\n":                       "brokerz",
		"hub:\n  brokers: [k1:9092]\n  hole_timeout: soon\n": "not a duration",
		"hub:\n  brokers: k1\n":                              "line 2",
	} {
		_, err := Load(write(body))
		if err == nil {
			var c Config
			c, _ = Load(write(body))
			err = c.Validate()
		}
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want ErrConfig naming %q", body, err, want)
		}
	}
	c := Default()
	c.Brokers = []string{"k1:9092"}
	c.Listen = "0.0.0.0:8090"
	c.DedupeWindow = 1
	c.HoleTimeout = 0
	err = c.Validate()
	for _, want := range []string{"hub.listen", "token", "hub.dedupe_window", "hub.hole_timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want %q", err, want)
		}
	}
}
