package mqtt

import "time"

func init() {
	// Reconnect quickly in tests; the production backoff starts at 500 ms.
	minBackoff = 100 * time.Millisecond
	maxBackoff = time.Second
}
