package zonepage

import "errors"

// Errors returned (wrapped) for bad requests; the handler answers them with
// 400 and the wrapped message.
var (
	// ErrBadEPC: an EPC or EPC filter that is not hex or is too long.
	ErrBadEPC = errors.New("bad EPC")
	// ErrBadLimit: a limit parameter that is not a positive integer.
	ErrBadLimit = errors.New("bad limit")
	// ErrBadEvent: an event from the Model that is not valid JSON; it is
	// left out of the answer and logged.
	ErrBadEvent = errors.New("bad event JSON from model")
)
