package mqtt_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/viper"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/mqtt"
)

// testdata/sample.yaml must stay a config New accepts.
func TestSampleConfig(t *testing.T) {
	raw, err := os.ReadFile("testdata/sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The sample points at /etc/rfidgw; make those files here.
	dir := t.TempDir()
	b := &testBroker{t: t, dir: dir}
	b.makeCerts()
	for name, src := range map[string]string{"mqtt-ca.pem": b.CA, "floor3.pem": b.CertFile, "floor3.key": b.KeyFile} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), data, 0o600)
	}
	os.WriteFile(filepath.Join(dir, "mqtt-password"), []byte("secret\n"), 0o600)
	conf := filepath.Join(dir, "sample.yaml")
	os.WriteFile(conf, []byte(strings.ReplaceAll(string(raw), "/etc/rfidgw", dir)), 0o600)

	v := viper.New()
	v.SetConfigFile(conf)
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	var readers []reader.Config
	for i, entry := range v.Get("readers").([]any) {
		rc, errs := reader.DecodeEntry(entry.(map[string]any), keyed.Decoder{})
		if len(errs) > 0 {
			t.Fatalf("readers[%d]: %v", i, errs)
		}
		readers = append(readers, rc)
	}
	if len(readers) != 3 {
		t.Fatalf("%d readers in the sample", len(readers))
	}
	for _, cfg := range readers {
		if _, err := mqtt.New(cfg, reader.Env{}); err != nil {
			t.Errorf("sample reader %s: %v", cfg.ID, err)
		}
	}
}
