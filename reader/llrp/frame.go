package llrp

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// MessageType is the 10-bit LLRP message type number.
type MessageType uint16

// Message types the package encodes or decodes (message type numbers of the LLRP standard's binary encoding (LLRP 1.0.1 and 1.1; machine-readable in the LLRP Toolkit's llrp-1x0-def.xml)).
const (
	MsgGetReaderCapabilities         MessageType = 1
	MsgGetReaderConfig               MessageType = 2
	MsgSetReaderConfig               MessageType = 3
	MsgCloseConnectionResponse       MessageType = 4
	MsgGetReaderCapabilitiesResponse MessageType = 11
	MsgGetReaderConfigResponse       MessageType = 12
	MsgSetReaderConfigResponse       MessageType = 13
	MsgCloseConnection               MessageType = 14
	MsgAddROSpec                     MessageType = 20
	MsgDeleteROSpec                  MessageType = 21
	MsgStartROSpec                   MessageType = 22
	MsgStopROSpec                    MessageType = 23
	MsgEnableROSpec                  MessageType = 24
	MsgDisableROSpec                 MessageType = 25
	MsgGetROSpecs                    MessageType = 26
	MsgAddROSpecResponse             MessageType = 30
	MsgDeleteROSpecResponse          MessageType = 31
	MsgStartROSpecResponse           MessageType = 32
	MsgStopROSpecResponse            MessageType = 33
	MsgEnableROSpecResponse          MessageType = 34
	MsgDisableROSpecResponse         MessageType = 35
	MsgGetROSpecsResponse            MessageType = 36
	MsgROAccessReport                MessageType = 61
	MsgKeepalive                     MessageType = 62
	MsgReaderEventNotification       MessageType = 63
	MsgEnableEventsAndReports        MessageType = 64
	MsgKeepaliveAck                  MessageType = 72
	MsgErrorMessage                  MessageType = 100
	MsgCustomMessage                 MessageType = 1023
)

var messageNames = map[MessageType]string{
	MsgGetReaderCapabilities: "GET_READER_CAPABILITIES", MsgSetReaderConfig: "SET_READER_CONFIG",
	MsgCloseConnectionResponse: "CLOSE_CONNECTION_RESPONSE", MsgGetReaderCapabilitiesResponse: "GET_READER_CAPABILITIES_RESPONSE",
	MsgSetReaderConfigResponse: "SET_READER_CONFIG_RESPONSE", MsgCloseConnection: "CLOSE_CONNECTION",
	MsgAddROSpec: "ADD_ROSPEC", MsgDeleteROSpec: "DELETE_ROSPEC", MsgStartROSpec: "START_ROSPEC",
	MsgStopROSpec: "STOP_ROSPEC", MsgEnableROSpec: "ENABLE_ROSPEC", MsgDisableROSpec: "DISABLE_ROSPEC",
	MsgAddROSpecResponse: "ADD_ROSPEC_RESPONSE", MsgDeleteROSpecResponse: "DELETE_ROSPEC_RESPONSE",
	MsgStartROSpecResponse: "START_ROSPEC_RESPONSE", MsgStopROSpecResponse: "STOP_ROSPEC_RESPONSE",
	MsgEnableROSpecResponse: "ENABLE_ROSPEC_RESPONSE", MsgDisableROSpecResponse: "DISABLE_ROSPEC_RESPONSE",
	MsgROAccessReport: "RO_ACCESS_REPORT", MsgKeepalive: "KEEPALIVE", MsgReaderEventNotification: "READER_EVENT_NOTIFICATION",
	MsgEnableEventsAndReports: "ENABLE_EVENTS_AND_REPORTS", MsgGetROSpecs: "GET_ROSPECS", MsgGetReaderConfig: "GET_READER_CONFIG", MsgGetReaderConfigResponse: "GET_READER_CONFIG_RESPONSE", MsgGetROSpecsResponse: "GET_ROSPECS_RESPONSE",
	MsgKeepaliveAck: "KEEPALIVE_ACK", MsgErrorMessage: "ERROR_MESSAGE", MsgCustomMessage: "CUSTOM_MESSAGE",
}

func (t MessageType) String() string {
	if s, ok := messageNames[t]; ok {
		return s
	}
	return fmt.Sprintf("message type %d", uint16(t))
}

// Protocol versions carried in the header.
const (
	Version101 uint8 = 1 // LLRP 1.0.1
	Version11  uint8 = 2 // LLRP 1.1
)

// HeaderLen is the size of the LLRP message header.
const HeaderLen = 10

// MaxMessageLength bounds the length a peer may announce, so that a corrupt
// or hostile header cannot make us allocate gigabytes. Real reports are at
// most a few hundred KiB.
const MaxMessageLength = 16 << 20

// Header is the 10-byte LLRP message header. Length counts the whole
// message, header included.
type Header struct {
	Version uint8
	Type    MessageType
	Length  uint32
	ID      uint32
}

// DecodeHeader parses and validates a message header.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("%w: header needs %d bytes, have %d", ErrShortMessage, HeaderLen, len(b))
	}
	w := binary.BigEndian.Uint16(b)
	h := Header{
		Version: uint8(w>>10) & 7,
		Type:    MessageType(w & 0x3FF),
		Length:  binary.BigEndian.Uint32(b[2:]),
		ID:      binary.BigEndian.Uint32(b[6:]),
	}
	if h.Version != Version101 && h.Version != Version11 {
		return h, fmt.Errorf("%w: version %d (want 1 or 2) in %v id %d", ErrBadHeader, h.Version, h.Type, h.ID)
	}
	if h.Length < HeaderLen || h.Length > MaxMessageLength {
		return h, fmt.Errorf("%w: length %d out of range [%d, %d] in %v id %d", ErrBadHeader, h.Length, HeaderLen, MaxMessageLength, h.Type, h.ID)
	}
	return h, nil
}

// appendHeader appends a header whose length field is patched by
// finishMessage once the body is written.
func appendHeader(dst []byte, version uint8, t MessageType, id uint32) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(version&7)<<10|uint16(t&0x3FF))
	dst = binary.BigEndian.AppendUint32(dst, 0)
	return binary.BigEndian.AppendUint32(dst, id)
}

// finishMessage writes the length of the message that starts at start.
func finishMessage(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start+2:], uint32(len(dst)-start))
	return dst
}

// Framer reads whole LLRP messages from a stream. Several messages may
// arrive in one TCP segment and one message may span many, so it always
// reads the header first and then exactly the announced body. The returned
// body aliases an internal buffer that the next ReadMessage overwrites.
type Framer struct {
	r   io.Reader
	hdr [HeaderLen]byte
	buf []byte
}

// NewFramer returns a Framer reading from r (wrap r in a bufio.Reader to
// save system calls).
func NewFramer(r io.Reader) *Framer { return &Framer{r: r} }

// ReadMessage returns the next message's header and body.
func (f *Framer) ReadMessage() (Header, []byte, error) {
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		return Header{}, nil, err
	}
	h, err := DecodeHeader(f.hdr[:])
	if err != nil {
		return h, nil, err
	}
	n := int(h.Length) - HeaderLen
	f.buf = f.buf[:0]
	for len(f.buf) < n {
		// Grow only as the data arrives, so that a corrupt length cannot
		// make us allocate MaxMessageLength for a few bytes.
		have := len(f.buf)
		chunk := min(n-have, max(have, 64<<10))
		f.buf = slices.Grow(f.buf, chunk)[:have+chunk]
		if _, err := io.ReadFull(f.r, f.buf[have:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return h, nil, fmt.Errorf("reading %d-byte body of %v id %d: %w", n, h.Type, h.ID, err)
		}
	}
	return h, f.buf, nil
}
