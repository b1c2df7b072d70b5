package llrp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// TestNewErrorsNameTheKey: New's errors carry the entry key they are
// about, so `rfidgw check` prints readers[i].key: message.
func TestNewErrorsNameTheKey(t *testing.T) {
	for key, c := range map[string]reader.Config{
		"address":     {ID: "r", Settings: &Settings{Address: "10.0.0.1:99999"}},
		"keepalive":   {ID: "r", Settings: &Settings{Address: "10.0.0.1:5084", Keepalive: time.Millisecond}},
		"antennas[1]": {ID: "r", Antennas: []int{1, 0}, Settings: &Settings{Address: "10.0.0.1:5084"}},
		"tls.cert":    {ID: "r", Settings: &Settings{Address: "10.0.0.1", TLS: &reader.TLS{Cert: "c.pem"}}},
		"tls.ca":      {ID: "r", Settings: &Settings{Address: "10.0.0.1", TLS: &reader.TLS{CA: "/nonexistent/ca.pem"}}},
	} {
		_, err := New(c, reader.Env{})
		var ke *keyed.Error
		if !errors.As(err, &ke) || ke.Key != key || strings.Contains(ke.Msg, `reader "r"`) {
			t.Errorf("%s: %v carries %+v, want key %s", key, err, ke, key)
		}
	}
}
