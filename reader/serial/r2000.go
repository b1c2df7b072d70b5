package serial

import (
	"encoding/binary"
	"fmt"

	"github.com/rfidgw/rfidgw/reader"
)

// "0xA0" protocol of Impinj-R2000-based modules (the R2000 modules' "UHF RFID Reader Serial Interface Protocol" V3.x).
//
//	A0 | Len | Address | Cmd | Data[Len-3] | Check      Len counts Address..Check; total Len+2
//	Check = −(sum of every preceding byte, the 0xA0 head included) mod 256
const (
	r2000Head      = 0xA0
	r2000Broadcast = 0xFF

	// Command numbers drift between vendor firmwares (the R2000 modules' "UHF RFID Reader Serial Interface Protocol" V3.x); the
	// three we use are the same in every table we know of.
	R2000CmdSetWorkAntenna    = 0x74
	R2000CmdFirmwareVersion   = 0x72
	R2000CmdRealTimeInventory = 0x89

	R2000Success        = 0x10
	r2000AntennaMissing = 0x22

	// r2000Repeat 0xFF asks for the shortest inventory round.
	r2000Repeat = 0xFF
)

// R2000Checksum returns the check byte for b (the frame from 0xA0 up to, not
// including, the check byte).
func R2000Checksum(b []byte) byte {
	var sum byte
	for _, x := range b {
		sum += x
	}
	return -sum
}

// encodeR2000 builds a frame; callers keep data ≤ 252 bytes.
func EncodeR2000(addr, cmd byte, data []byte) []byte {
	f := make([]byte, 0, len(data)+5)
	f = append(f, r2000Head, byte(len(data)+3), addr, cmd)
	f = append(f, data...)
	return append(f, R2000Checksum(f))
}

// R2000Frame is one 0xA0 frame. Data (between Cmd and Check) aliases the
// decoder's buffer and is valid until the next Feed.
type R2000Frame struct {
	Addr byte
	Cmd  byte
	Data []byte
}

// R2000Decoder splits an R2000 byte stream into frames (the same framing in
// both directions). It is a pure function of the bytes fed to it.
type R2000Decoder struct{ byteQueue }

// NewR2000Decoder returns an empty decoder.
func NewR2000Decoder() *R2000Decoder { return &R2000Decoder{} }

// Feed appends bytes read from the line.
func (d *R2000Decoder) Feed(p []byte) { d.feed(p) }

// Next returns the next complete frame, ErrIncomplete when more bytes are
// needed, or a *FrameError (ErrGarbage, ErrChecksum) when it skipped bytes.
func (d *R2000Decoder) Next() (R2000Frame, error) {
	b := d.pending()
	if len(b) == 0 {
		return R2000Frame{}, ErrIncomplete
	}
	if b[0] != r2000Head {
		i := indexByteFrom(b, r2000Head, 1)
		if i < 0 {
			i = len(b)
		}
		d.off += i
		return R2000Frame{}, &FrameError{Err: ErrGarbage, Skipped: i}
	}
	if len(b) < 2 {
		return R2000Frame{}, ErrIncomplete
	}
	ln := int(b[1])
	if ln < 3 {
		return R2000Frame{}, d.skipBad(b, ErrChecksum, fmt.Sprintf("R2000 Len %d < 3", ln))
	}
	n := ln + 2
	if len(b) < n {
		return R2000Frame{}, ErrIncomplete
	}
	var sum byte
	for _, x := range b[:n] {
		sum += x
	}
	if sum != 0 {
		return R2000Frame{}, d.skipBad(b, ErrChecksum,
			fmt.Sprintf("R2000 cmd 0x%02X: check 0x%02X, want 0x%02X", b[3], b[n-1], R2000Checksum(b[:n-1])))
	}
	d.off += n
	return R2000Frame{Addr: b[2], Cmd: b[3], Data: b[4 : n-1]}, nil
}

// skipBad resumes at the next 0xA0 after the current head.
func (d *R2000Decoder) skipBad(b []byte, err error, detail string) error {
	i := indexByteFrom(b, r2000Head, 1)
	if i < 0 {
		i = len(b)
	}
	d.off += i
	return &FrameError{Err: err, Skipped: i, Detail: detail}
}

// Abandon drops a partial frame that will not complete (see
// ThingMagicDecoder.Abandon). It returns nil when nothing was pending.
func (d *R2000Decoder) Abandon() error {
	b := d.pending()
	if len(b) == 0 {
		return nil
	}
	return d.skipBad(b, ErrTruncated, "")
}

// R2000RecordKind classifies an answer to cmd_real_time_inventory (0x89).
type R2000RecordKind int

// Kinds of inventory answers.
const (
	R2000Other    R2000RecordKind = iota // not an 0x89 answer
	R2000Tag                             // a tag record
	R2000RoundEnd                        // end of the inventory round
	R2000Error                           // error code; also ends the round
)

// R2000Record is a decoded 0x89 answer.
type R2000Record struct {
	Kind      R2000RecordKind
	Tag       Tag  // R2000Tag
	ErrorCode byte // R2000Error
	AntID     byte // R2000RoundEnd: the antenna of the round (0-based)
	ReadRate  uint16
	TotalRead uint32
}

// ParseR2000Inventory decodes an answer to cmd_real_time_inventory:
//
//	tag:   FreqAnt | PC(2) | EPC(N) | RSSI          antenna = FreqAnt&3 + 1 (+4 when RSSI bit 7 is set)
//	end:   AntID | ReadRate u16 | TotalRead u32     (Len 0x0A)
//	error: ErrorCode                                (Len 0x04)
//
// RSSI in dBm is the raw value (without bit 7) minus 129 (PYIMPINJ).
func ParseR2000Inventory(f R2000Frame) (R2000Record, error) {
	if f.Cmd != R2000CmdRealTimeInventory {
		return R2000Record{Kind: R2000Other}, nil
	}
	d := f.Data
	switch {
	case len(d) == 1:
		return R2000Record{Kind: R2000Error, ErrorCode: d[0]}, nil
	case len(d) == 7:
		return R2000Record{Kind: R2000RoundEnd, AntID: d[0],
			ReadRate: binary.BigEndian.Uint16(d[1:3]), TotalRead: binary.BigEndian.Uint32(d[3:7])}, nil
	case len(d) < 6:
		return R2000Record{}, fmt.Errorf("%w: R2000 inventory answer of %d data bytes", ErrBadRecord, len(d))
	}
	epc := d[3 : len(d)-1]
	if len(epc)%2 != 0 {
		return R2000Record{}, fmt.Errorf("%w: R2000 tag record with an odd EPC length (%d bytes)", ErrBadRecord, len(epc))
	}
	raw := d[len(d)-1]
	ant := int(d[0]&0x03) + 1
	if raw&0x80 != 0 {
		ant += 4
	}
	t := Tag{
		EPC:     reader.HexEPC(epc),
		Antenna: ant,
		RSSI:    float64(int(raw&0x7F) - 129),
	}
	return R2000Record{Kind: R2000Tag, Tag: t}, nil
}

// encodeR2000Tag builds a tag record as a module sends it (for the
// Simulator): frequency index 7, antenna 1–8, RSSI in dBm.
func EncodeR2000Tag(addr byte, epc []byte, antenna int, rssi float64) []byte {
	a := antenna - 1
	raw := int(rssi + 129.5) // round to nearest
	raw = max(0, min(raw, 0x7F))
	if a >= 4 {
		raw |= 0x80
		a -= 4
	}
	pc := uint16(len(epc)/2) << 11
	d := make([]byte, 0, len(epc)+4)
	d = append(d, 7<<2|byte(a&3), byte(pc>>8), byte(pc))
	d = append(d, epc...)
	d = append(d, byte(raw))
	return EncodeR2000(addr, R2000CmdRealTimeInventory, d)
}

// R2000Version is the answer to get_firmware_version (0x72).
type R2000Version struct {
	Addr         byte
	Major, Minor byte
}

// ParseR2000Version decodes the answer to 0x72.
func ParseR2000Version(f R2000Frame) (R2000Version, error) {
	if f.Cmd != R2000CmdFirmwareVersion || len(f.Data) < 2 {
		return R2000Version{}, fmt.Errorf("%w: R2000 firmware answer cmd 0x%02X with %d data bytes", ErrBadRecord, f.Cmd, len(f.Data))
	}
	return R2000Version{Addr: f.Addr, Major: f.Data[0], Minor: f.Data[1]}, nil
}

// String is what `rfidgw check` prints.
func (v R2000Version) String() string {
	return fmt.Sprintf("R2000 module (0xA0 protocol) firmware %d.%d, address 0x%02X", v.Major, v.Minor, v.Addr)
}

var (
	r2000CmdVersion   = EncodeR2000(r2000Broadcast, R2000CmdFirmwareVersion, nil)
	r2000CmdInventory = EncodeR2000(r2000Broadcast, R2000CmdRealTimeInventory, []byte{r2000Repeat})
)

func r2000CmdAntenna(a int) []byte {
	return EncodeR2000(r2000Broadcast, R2000CmdSetWorkAntenna, []byte{byte(a - 1)})
}
