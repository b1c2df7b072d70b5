package hub

import "errors"

// Sentinel errors of the hub; the returned errors wrap them with details.
var (
	// ErrConfig: the hub configuration is invalid (exit 2).
	ErrConfig = errors.New("bad hub config")
	// ErrBadMessage: a message the hub cannot use (it goes to the DLQ).
	ErrBadMessage = errors.New("unusable message")
)
