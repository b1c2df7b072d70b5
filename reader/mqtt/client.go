package mqtt

import (
	"context"
	"crypto/tls"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/rfidgw/rfidgw/reader"
)

// What the simulated publisher of mqtt/mqttsim shares with the source, so
// both connect and fail the same way.

// ParseBroker checks a broker URL (key names it in errors), adds the
// scheme's default port and loads the TLS settings for ssl:// and wss://.
func ParseBroker(key, raw string, t *reader.TLS) (string, *tls.Config, error) {
	return parseBroker(key, raw, t)
}

// ConnectTimeouts are the connect timeout and keepalive of every client.
func ConnectTimeouts() (connect, keepalive time.Duration) { return connectTimeout, keepAlive }

// WaitToken waits for tok until ctx ends or timeout passes.
func WaitToken(ctx context.Context, tok paho.Token, timeout time.Duration) error {
	return waitToken(ctx, tok, timeout)
}

// Classify wraps a connect error in the sentinel that says what to fix
// (ErrUnreachable, ErrBadCredentials, ErrNotAuthorized, ErrTLS).
func Classify(err error, broker, username, clientID string, usesTLS bool) error {
	return classify(err, broker, username, clientID, usesTLS)
}
