package sdnotify

import "errors"

// Sentinel errors; every error this package returns wraps one of them, so
// callers can test with errors.Is.
var (
	// ErrBadSocket: $NOTIFY_SOCKET is set but is not an absolute path or an
	// abstract ('@') socket name, so there is nowhere sensible to send to.
	ErrBadSocket = errors.New("sdnotify: bad NOTIFY_SOCKET")
	// ErrSend: the datagram could not be delivered (no listener, socket gone,
	// permission denied).
	ErrSend = errors.New("sdnotify: send failed")
)
