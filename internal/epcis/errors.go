package epcis

import "errors"

// Sentinel errors. Every error of this package wraps one of them.
var (
	// ErrConfig means an EPCIS setting (mapping, zone URIs, time zone) is invalid.
	ErrConfig = errors.New("bad epcis setting")
	// ErrHash means an event cannot be hashed (a field or value the hash
	// implementation does not support, a bad time).
	ErrHash = errors.New("epcis event hash")
	// ErrEvent means an rfidgw event could not be read or encoded.
	ErrEvent = errors.New("epcis event")
)
