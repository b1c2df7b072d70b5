package serial

import (
	"errors"
	"testing"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// TestNewErrorsNameTheKey: New's errors carry the entry key they are
// about, so `rfidgw check` prints readers[i].key: message.
func TestNewErrorsNameTheKey(t *testing.T) {
	for key, s := range map[string]*Settings{
		"region":  {Device: "/dev/x", Protocol: ProtocolThingMagic, Region: "MARS"},
		"pattern": {Device: "/dev/x", Protocol: ProtocolASCII, Pattern: "("},
		"baud":    {Device: "/dev/x", Protocol: ProtocolR2000, Baud: -1},
	} {
		_, err := New(reader.Config{ID: "r", Settings: s}, reader.Env{})
		var ke *keyed.Error
		if !errors.As(err, &ke) || ke.Key != key {
			t.Errorf("%s: %v carries %+v, want key %s", key, err, ke, key)
		}
	}
}
