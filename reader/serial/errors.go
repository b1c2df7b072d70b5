package serial

import (
	"errors"
	"fmt"

	"github.com/rfidgw/rfidgw/reader"
)

// Sentinel errors of the package. Every error it returns wraps one of these
// (or an error of the serial port library), so callers can test with errors.Is.
var (
	// ErrIncomplete is returned by a decoder's Next when the buffered bytes
	// do not yet hold a complete frame or line: feed it more bytes.
	ErrIncomplete = errors.New("incomplete frame")
	// ErrGarbage means bytes that cannot start a frame were skipped.
	ErrGarbage = errors.New("garbage between frames")
	// ErrChecksum means a frame's CRC or checksum did not match; it was skipped.
	ErrChecksum = errors.New("bad checksum")
	// ErrTruncated means a partial frame was abandoned because it did not
	// complete in the time the line needs to carry it.
	ErrTruncated = errors.New("truncated frame")
	// ErrBadRecord means a frame had a valid checksum but its payload could
	// not be understood (bad lengths, empty EPC, unsupported metadata).
	ErrBadRecord = errors.New("bad record")
	// ErrNoMatch means an ASCII line did not match the configured pattern.
	ErrNoMatch = errors.New("line does not match pattern")
	// ErrLineTooLong means an ASCII line exceeded MaxLineLength and was dropped.
	ErrLineTooLong = errors.New("line too long")

	// ErrConfig wraps every configuration problem New reports.
	ErrConfig = errors.New("serial reader config")
	// ErrNoAnswer means the module did not answer a command in time.
	ErrNoAnswer = errors.New("module did not answer")
	// ErrModuleStatus means the module answered a command with an error status.
	ErrModuleStatus = errors.New("module reported an error")
	// ErrBusy means another process (another rfidgw, or `rfidgw check`
	// next to the running daemon) has the device open. It matches
	// reader.ErrHeld.
	ErrBusy = reader.NewHeldError("serial device in use by another process")
	// ErrDeviceGone means the device node vanished or was replaced (unplug).
	ErrDeviceGone = errors.New("serial device gone")
	// ErrClosed is returned by the Simulator after Close.
	ErrClosed = errors.New("simulator closed")
)

// FrameError describes bytes a decoder had to skip. Err is one of the
// sentinels above; Skipped is how many bytes were dropped.
type FrameError struct {
	Err     error
	Skipped int
	Detail  string
}

func (e *FrameError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%v (%d bytes skipped): %s", e.Err, e.Skipped, e.Detail)
	}
	return fmt.Sprintf("%v (%d bytes skipped)", e.Err, e.Skipped)
}

func (e *FrameError) Unwrap() error { return e.Err }
