package uplink

import "errors"

// Sentinel errors. Callers test them with errors.Is; the wrapped error says
// which setting, topic or broker was involved.
var (
	// ErrConfig marks an invalid uplink configuration.
	ErrConfig = errors.New("invalid uplink config")
	// ErrTopicMissing means the broker does not know the topic.
	ErrTopicMissing = errors.New("topic does not exist")
	// ErrNotAuthorized means the broker refused access to the topic or cluster.
	ErrNotAuthorized = errors.New("not authorised")
	// ErrAuthentication means the broker rejected the credentials (SASL) or
	// the TLS handshake failed.
	ErrAuthentication = errors.New("authentication failed")
	// ErrUnreachable means no broker answered in time.
	ErrUnreachable = errors.New("no broker reachable")
	// ErrClosed is returned by Run when it is called twice.
	ErrClosed = errors.New("forwarder already running or stopped")
	// ErrHoles is returned by Tail with FailOnHoles when seqs went missing
	// that no gap event explains.
	ErrHoles = errors.New("seq holes")
)
