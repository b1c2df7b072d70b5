package serial_test

import (
	"os"
	"testing"

	"github.com/spf13/viper"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/serial"
)

// The sample config in testdata is read the way the gateway reads its
// config (viper, mapstructure keys) and every reader in it is accepted.
func TestSampleConfig(t *testing.T) {
	f, err := os.Open("testdata/sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(f); err != nil {
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
		t.Fatalf("%d readers in the sample, want 3", len(readers))
	}
	protocols := map[string]bool{}
	for _, rc := range readers {
		if _, err := serial.New(rc, reader.Env{Log: quietLog()}); err != nil {
			t.Errorf("sample reader %s: %v", rc.ID, err)
		}
		protocols[rc.Settings.(*serial.Settings).Protocol] = true
	}
	if len(protocols) != 3 {
		t.Errorf("the sample should show all three protocols, has %v", protocols)
	}
	d, _ := serial.NewASCIIDecoder(readers[2].Settings.(*serial.Settings).Pattern)
	if tag, err := d.ParseLine([]byte("Tag:1115 F268 81C3 C012, Disc:2003/01/21 09:00:51, Last:2003/01/21 09:00:51, Count:4, Ant:0")); err != nil || tag.EPC != "1115F26881C3C012" || tag.Antenna != 1 {
		t.Errorf("the sample's Alien pattern: %+v %v", tag, err)
	}
}
