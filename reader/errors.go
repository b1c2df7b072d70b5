package reader

import "errors"

// ErrHeld: the reader is held by another client (a serial device another
// process has open, an LLRP reader that already has a client). `rfidgw
// check` suggests stopping the daemon for it. Protocol packages declare
// their own sentinel with NewHeldError so errors.Is matches both.
var ErrHeld = errors.New("reader held by another client")

// NewHeldError returns a sentinel error with message msg that also matches
// ErrHeld.
func NewHeldError(msg string) error { return &heldError{msg} }

type heldError struct{ msg string }

func (e *heldError) Error() string        { return e.msg }
func (e *heldError) Is(target error) bool { return target == ErrHeld }
