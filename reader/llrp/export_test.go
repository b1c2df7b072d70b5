package llrp

import "time"

// Hooks for the tests of package llrp_test, which run the source against
// the simulator of llrp/llrpsim (an in-package test cannot import it).

// SetBackoff shortens the reconnect backoff (max 0 keeps it).
func SetBackoff(s *Source, min, max time.Duration) {
	s.minBackoff = min
	if max > 0 {
		s.maxBackoff = max
	}
}

// SetRequestTimeout shortens the wait for a reader's answer.
func SetRequestTimeout(s *Source, d time.Duration) { s.requestTimeout = d }

// KeepaliveOf is the keepalive interval the source asks for.
func KeepaliveOf(s *Source) time.Duration { return s.keepalive }

// AppendRawMessage appends a message with a raw body (for malformed ones).
func AppendRawMessage(dst []byte, version uint8, t MessageType, id uint32, body []byte) []byte {
	start := len(dst)
	dst = appendHeader(dst, version, t, id)
	return finishMessage(append(dst, body...), start)
}
