package llrp

import (
	"errors"

	"github.com/rfidgw/rfidgw/reader"
)

// Sentinel errors of the package. Errors returned by the decoder and the
// session wrap one of these (test with errors.Is) and add what and where.
var (
	// ErrShortMessage: a header, message body or parameter is shorter than
	// its encoding requires.
	ErrShortMessage = errors.New("llrp: truncated message")
	// ErrBadHeader: a message header with an unknown version, a length below
	// 10 or above MaxMessageLength.
	ErrBadHeader = errors.New("llrp: bad message header")
	// ErrBadParameter: a parameter whose length or layout is invalid.
	ErrBadParameter = errors.New("llrp: bad parameter")
	// ErrUnknownTV: a TV parameter of an unknown type; it has no length
	// field, so the rest of its TagReportData cannot be read.
	ErrUnknownTV = errors.New("llrp: unknown TV parameter")
	// ErrUnexpectedMessage: a message of a type the decoder was not asked
	// for, or a response of the wrong type.
	ErrUnexpectedMessage = errors.New("llrp: unexpected message")
	// ErrStatus: the reader answered a request with an LLRPStatus other than
	// M_Success.
	ErrStatus = errors.New("llrp: reader returned an error status")
	// ErrConnectionRefused: the reader's ConnectionAttemptEvent said no
	// (typically another client is already connected). It matches
	// reader.ErrHeld.
	ErrConnectionRefused = reader.NewHeldError("llrp: reader refused the connection")
	// ErrKeepaliveTimeout: nothing arrived from the reader for three
	// keepalive intervals; the reader is considered dead.
	ErrKeepaliveTimeout = errors.New("llrp: reader silent for 3 keepalive intervals")
	// ErrResponseTimeout: the reader did not answer a request in time.
	ErrResponseTimeout = errors.New("llrp: no response from reader")
	// ErrConfig: the reader config cannot be used by the LLRP source.
	ErrConfig = errors.New("llrp: bad reader config")
	// ErrReaderClosed: the reader announced or performed a connection close.
	ErrReaderClosed = errors.New("llrp: reader closed the connection")
)
