package gs1

import "errors"

// Sentinel errors. Every error of this package wraps exactly one of them.
var (
	// ErrNotGS1 means the EPC's header is not one of the decoded encodings
	// (another scheme, or not an EPC at all): use RawURI.
	ErrNotGS1 = errors.New("not a decoded GS1 EPC encoding")
	// ErrMalformed means the header names a decoded encoding but the bits
	// break its rules (bad hex, too short, partition 7, a value out of range,
	// a character outside the GS1 set, non-zero padding): use RawURI.
	ErrMalformed = errors.New("malformed EPC")
	// ErrNotHex means the EPC is empty or not hex digits: bad input rather
	// than a foreign tag. It comes with ErrMalformed.
	ErrNotHex = errors.New("EPC is not hex digits")
	// ErrPattern means a filter pattern is not valid or can never match.
	ErrPattern = errors.New("bad EPC pattern")
)
