package mqtt

import "errors"

// Sentinel errors of this package. Callers test them with errors.Is; every
// returned error wraps one of them and adds what and where.
var (
	// ErrConfig: a reader config entry this package cannot use.
	ErrConfig = errors.New("mqtt reader config")

	// ErrBadPayload: a payload (or one event in it) could not be decoded
	// into reads: not JSON, a missing epc, a wrong type.
	ErrBadPayload = errors.New("bad mqtt payload")

	// ErrUnreachable: the broker could not be reached (DNS, refused, timeout).
	ErrUnreachable = errors.New("broker unreachable")

	// ErrBadCredentials: the broker refused the user name or password.
	ErrBadCredentials = errors.New("broker refused credentials")

	// ErrNotAuthorized: the broker refused the client (not authorised).
	ErrNotAuthorized = errors.New("broker refused: not authorised")

	// ErrTLS: the TLS handshake with the broker failed (certificate,
	// host name, unknown authority, protocol).
	ErrTLS = errors.New("broker TLS handshake failed")

	// ErrSubscribe: the broker refused or did not confirm a subscription.
	ErrSubscribe = errors.New("broker refused subscription")

	// ErrSinkClosed: the sink refused a batch while the context was still
	// live, i.e. the pipeline is shutting down; the batch was not acked.
	ErrSinkClosed = errors.New("sink refused reads")

	// ErrPublish: the simulator could not publish a read.
	ErrPublish = errors.New("mqtt publish failed")
)
