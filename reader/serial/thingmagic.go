package serial

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/rfidgw/rfidgw/reader"
)

// ThingMagic / JADAK Mercury serial protocol (ThingMagic Mercury API, serial_reader_l3.c).
//
//	host → module : FF | LEN | OPCODE | DATA[LEN] | CRC_hi CRC_lo                  LEN+5 bytes
//	module → host : FF | LEN | OPCODE | STATUS(2) | DATA[LEN] | CRC_hi CRC_lo      LEN+7 bytes
const (
	tmHeader = 0xFF

	TMOpVersion       = 0x03
	TMOpBootFirmware  = 0x04
	TMOpCurrentProg   = 0x0C
	TMOpReadMultiple  = 0x22
	TMOpMultiProtocol = 0x2F
	TMOpSetAntenna    = 0x91
	TMOpSetProtocol   = 0x93
	TMOpSetRegion     = 0x97

	// Status codes seen during continuous reading.
	TMStatusOK           = 0x0000
	TMStatusNoTags       = 0x0400 // keep-alive while nothing is in the field
	tmStatusTempThrottle = 0x0504
	tmStatusReturnLoss   = 0x0505
	TMStatusBadOpcode    = 0x0101

	tmProtocolGen2 = 0x05
)

// tmMetadataFlags is what we ask for in continuous reading: read count,
// RSSI, antenna, frequency, timestamp, phase, protocol, data, GPIO.
const tmMetadataFlags = 0x01FF

// The ThingMagic CRC is not CRC-16/CCITT-FALSE: the data nibbles are shifted
// into the low end of the register and there is no final flush (MERCURY
// serial_reader_l3.c). For GET_VERSION (00 03) it gives 0x1D0C, not 0x2D6C.
var tmCRCTable = [16]uint16{
	0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
	0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef,
}

// tmCRCTable8 does two nibble steps at once: after
// crc = (crc<<4|hi) ^ T[crc>>12]; crc = (crc<<4|lo) ^ T[crc>>12]
// the table terms depend only on the old top byte, so one byte costs one
// lookup: crc = (crc<<8 | x) ^ T8[crc>>8].
var tmCRCTable8 = func() (t [256]uint16) {
	for i := range t {
		a := tmCRCTable[i>>4]
		t[i] = a<<4 ^ tmCRCTable[uint16(i&0x0F)^a>>12]
	}
	return t
}()

// ThingMagicCRC computes the CRC over b (a frame without its 0xFF head and
// without the two CRC bytes).
func ThingMagicCRC(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc = (crc<<8 | uint16(x)) ^ tmCRCTable8[crc>>8]
	}
	return crc
}

// encodeTMCommand builds a host → module frame; callers keep data ≤ 255 bytes.
func encodeTMCommand(opcode byte, data []byte) []byte {
	f := make([]byte, 0, len(data)+5)
	f = append(f, tmHeader, byte(len(data)), opcode)
	f = append(f, data...)
	return binary.BigEndian.AppendUint16(f, ThingMagicCRC(f[1:]))
}

// encodeTMResponse builds a module → host frame (used by the Simulator);
// callers keep data ≤ 255 bytes.
func EncodeTMResponse(opcode byte, status uint16, data []byte) []byte {
	f := make([]byte, 0, len(data)+7)
	f = append(f, tmHeader, byte(len(data)), opcode, byte(status>>8), byte(status))
	f = append(f, data...)
	return binary.BigEndian.AppendUint16(f, ThingMagicCRC(f[1:]))
}

// TMFrame is one ThingMagic frame. Data aliases the decoder's buffer and is
// valid until the next Feed.
type TMFrame struct {
	Opcode byte
	Status uint16 // module → host frames only
	Data   []byte
}

// ThingMagicDecoder splits a ThingMagic byte stream into frames. It is a
// pure function of the bytes fed to it: no I/O, no clock.
type ThingMagicDecoder struct {
	byteQueue
	overhead int // 7 for responses (status word), 5 for commands
	commands bool
}

// NewThingMagicDecoder decodes module → host frames (responses, tag records).
func NewThingMagicDecoder() *ThingMagicDecoder { return &ThingMagicDecoder{overhead: 7} }

// NewThingMagicCommandDecoder decodes host → module frames (what a module,
// i.e. the Simulator, receives).
func NewThingMagicCommandDecoder() *ThingMagicDecoder {
	return &ThingMagicDecoder{overhead: 5, commands: true}
}

// Feed appends bytes read from the line.
func (d *ThingMagicDecoder) Feed(p []byte) { d.feed(p) }

// Next returns the next complete frame. It returns ErrIncomplete when more
// bytes are needed, and a *FrameError (wrapping ErrGarbage or ErrChecksum)
// when it skipped bytes to resynchronise; keep calling Next after either.
func (d *ThingMagicDecoder) Next() (TMFrame, error) {
	b := d.pending()
	if len(b) == 0 {
		return TMFrame{}, ErrIncomplete
	}
	if b[0] != tmHeader {
		i := indexByteFrom(b, tmHeader, 1)
		if i < 0 {
			i = len(b)
		}
		d.off += i
		return TMFrame{}, &FrameError{Err: ErrGarbage, Skipped: i}
	}
	if len(b) < 2 {
		return TMFrame{}, ErrIncomplete
	}
	n := int(b[1]) + d.overhead
	if len(b) < n {
		return TMFrame{}, ErrIncomplete
	}
	want := binary.BigEndian.Uint16(b[n-2:])
	if got := ThingMagicCRC(b[1 : n-2]); got != want {
		// Not a frame after all (or a corrupted one): resume at the next
		// 0xFF after this head, so one bad frame costs one error.
		i := indexByteFrom(b, tmHeader, 1)
		if i < 0 {
			i = len(b)
		}
		d.off += i
		return TMFrame{}, &FrameError{Err: ErrChecksum, Skipped: i,
			Detail: fmt.Sprintf("ThingMagic opcode 0x%02X: CRC 0x%04X, frame says 0x%04X", b[2], got, want)}
	}
	d.off += n
	if d.commands {
		return TMFrame{Opcode: b[2], Data: b[3 : n-2]}, nil
	}
	return TMFrame{Opcode: b[2], Status: binary.BigEndian.Uint16(b[3:5]), Data: b[5 : n-2]}, nil
}

// Abandon is called when a partial frame has waited longer than the line
// needs to carry it: a module sends a frame in one go, so it will never
// complete (it was a stray 0xFF that looked like a head, or the rest was
// lost). It drops up to the next 0xFF and returns a *FrameError, or nil
// when nothing was pending.
func (d *ThingMagicDecoder) Abandon() error {
	b := d.pending()
	if len(b) == 0 {
		return nil
	}
	i := indexByteFrom(b, tmHeader, 1)
	if i < 0 {
		i = len(b)
	}
	d.off += i
	return &FrameError{Err: ErrTruncated, Skipped: i}
}

// TMRecordKind classifies a frame received during continuous reading.
type TMRecordKind int

// Kinds of continuous-read records.
const (
	TMResponse  TMRecordKind = iota // any frame that is not a 0x22 stream record (e.g. the 0x2F answer)
	TMTag                           // a tag record
	TMHeartbeat                     // keep-alive, status 0x0400, no tags in the field
	TMStreamEnd                     // response type 0: the module ended the stream
	TMStats                         // response type 2: statistics, ignored
	TMWarning                       // another non-zero status (0x0504 temperature, 0x0505 return loss …)
)

// Tag is one decoded tag observation, common to every protocol.
type Tag struct {
	EPC     string  // upper-case hex, without PC and CRC
	Antenna int     // 1-based
	RSSI    float64 // dBm; 0 when the reader does not report it

	// ThingMagic metadata (zero when absent).
	ReadCount    int
	FrequencyKHz int
	OffsetMs     uint32 // module timestamp: ms since the stream's base time
	HasOffset    bool
}

// TMRecord is a decoded continuous-read frame.
type TMRecord struct {
	Kind   TMRecordKind
	Status uint16
	Tag    Tag // Kind == TMTag only
}

// ParseThingMagicRecord classifies a frame received while continuous reading
// is on and decodes tag records (the Mercury API's serial_reader_l3.c, "streamed tag record"). The
// metadata fields are parsed in flag-bit order from the flags the module
// echoes, so any subset of 0x01FF decodes.
func ParseThingMagicRecord(f TMFrame) (TMRecord, error) {
	if f.Opcode != TMOpReadMultiple {
		return TMRecord{Kind: TMResponse, Status: f.Status}, nil
	}
	switch {
	case f.Status == TMStatusNoTags:
		return TMRecord{Kind: TMHeartbeat, Status: f.Status}, nil
	case f.Status != TMStatusOK:
		return TMRecord{Kind: TMWarning, Status: f.Status}, nil
	}
	d := f.Data
	if len(d) < 6 {
		return TMRecord{}, fmt.Errorf("%w: ThingMagic stream record of %d bytes, want at least 6", ErrBadRecord, len(d))
	}
	if d[0]&0x10 == 0 {
		return TMRecord{}, fmt.Errorf("%w: ThingMagic stream record option 0x%02X without metadata", ErrBadRecord, d[0])
	}
	flags := binary.BigEndian.Uint16(d[3:5])
	switch d[5] {
	case 0x00:
		return TMRecord{Kind: TMStreamEnd}, nil
	case 0x02:
		return TMRecord{Kind: TMStats}, nil
	case 0x01:
	default:
		return TMRecord{}, fmt.Errorf("%w: ThingMagic stream response type 0x%02X", ErrBadRecord, d[5])
	}
	if flags&^0x01FF != 0 {
		return TMRecord{}, fmt.Errorf("%w: ThingMagic metadata flags 0x%04X not supported (want a subset of 0x01FF)", ErrBadRecord, flags)
	}
	var t Tag
	t.Antenna = 1
	p := d[6:]
	need := func(n int, what string) error {
		if len(p) < n {
			return fmt.Errorf("%w: ThingMagic tag record ends inside %s", ErrBadRecord, what)
		}
		return nil
	}
	if flags&0x0001 != 0 {
		if err := need(1, "read count"); err != nil {
			return TMRecord{}, err
		}
		t.ReadCount = int(p[0])
		p = p[1:]
	}
	if flags&0x0002 != 0 {
		if err := need(1, "RSSI"); err != nil {
			return TMRecord{}, err
		}
		t.RSSI = float64(int8(p[0]))
		p = p[1:]
	}
	if flags&0x0004 != 0 {
		if err := need(1, "antenna"); err != nil {
			return TMRecord{}, err
		}
		// High nibble = TX port; 0 stands for port 16.
		t.Antenna = int(p[0] >> 4)
		if t.Antenna == 0 {
			t.Antenna = 16
		}
		p = p[1:]
	}
	if flags&0x0008 != 0 {
		if err := need(3, "frequency"); err != nil {
			return TMRecord{}, err
		}
		t.FrequencyKHz = int(p[0])<<16 | int(p[1])<<8 | int(p[2])
		p = p[3:]
	}
	if flags&0x0010 != 0 {
		if err := need(4, "timestamp"); err != nil {
			return TMRecord{}, err
		}
		t.OffsetMs = binary.BigEndian.Uint32(p)
		t.HasOffset = true
		p = p[4:]
	}
	if flags&0x0020 != 0 {
		if err := need(2, "phase"); err != nil {
			return TMRecord{}, err
		}
		p = p[2:]
	}
	if flags&0x0040 != 0 {
		if err := need(1, "protocol"); err != nil {
			return TMRecord{}, err
		}
		p = p[1:]
	}
	if flags&0x0080 != 0 {
		if err := need(2, "data length"); err != nil {
			return TMRecord{}, err
		}
		m := (int(binary.BigEndian.Uint16(p)) + 7) / 8
		p = p[2:]
		if err := need(m, "embedded data"); err != nil {
			return TMRecord{}, err
		}
		p = p[m:]
	}
	if flags&0x0100 != 0 {
		if err := need(1, "GPIO status"); err != nil {
			return TMRecord{}, err
		}
		p = p[1:]
	}
	if err := need(2, "EPC length"); err != nil {
		return TMRecord{}, err
	}
	bits := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	n := bits / 8
	if bits%8 != 0 || n > len(p) {
		return TMRecord{}, fmt.Errorf("%w: ThingMagic EPC length %d bits, %d bytes left", ErrBadRecord, bits, len(p))
	}
	p = p[:n]
	// PC word, optional XPC_W1 (PC bit 0x0200) and XPC_W2 (XPC_W1 bit 0x8000), EPC, tag CRC.
	head := 2
	if n >= 2 && p[0]&0x02 != 0 {
		head += 2
		if n >= 4 && p[2]&0x80 != 0 {
			head += 2
		}
	}
	if n < head+2+1 {
		return TMRecord{}, fmt.Errorf("%w: ThingMagic tag record without EPC (%d bits)", ErrBadRecord, bits)
	}
	t.EPC = reader.HexEPC(p[head : n-2])
	return TMRecord{Kind: TMTag, Tag: t}, nil
}

// encodeTMTag builds a streamed tag record with metadata 0x01FF, as
// a module sends it during continuous reading (used by the Simulator and the
// tests). epc is raw EPC bytes; pc is derived from its length.
func EncodeTMTag(epc []byte, antenna int, rssi int8, freqKHz int, offsetMs uint32) []byte {
	ant := byte(antenna&0x0F) << 4
	ant |= byte(antenna & 0x0F)
	pc := uint16(len(epc)/2) << 11
	d := make([]byte, 0, 40+len(epc))
	d = append(d, 0x10, 0x00, 0x1B) // option (metadata), search flags
	d = binary.BigEndian.AppendUint16(d, tmMetadataFlags)
	d = append(d, 0x01) // tag record
	d = append(d, 1, byte(rssi), ant)
	d = append(d, byte(freqKHz>>16), byte(freqKHz>>8), byte(freqKHz))
	d = binary.BigEndian.AppendUint32(d, offsetMs)
	d = append(d, 0x00, 0x00)     // phase
	d = append(d, tmProtocolGen2) // protocol
	d = append(d, 0x00, 0x00)     // no embedded data
	d = append(d, 0x0F)           // GPIO
	d = binary.BigEndian.AppendUint16(d, uint16((len(epc)+4)*8))
	d = binary.BigEndian.AppendUint16(d, pc)
	d = append(d, epc...)
	d = binary.BigEndian.AppendUint16(d, ^crc16Gen2(epc, pc))
	return EncodeTMResponse(TMOpReadMultiple, TMStatusOK, d)
}

// crc16Gen2 is the tag's own CRC-16 over PC+EPC (ISO/IEC 13239, what a Gen2
// tag backscatters); the gateway never checks it, the Simulator fills it in
// so its frames look like a module's.
func crc16Gen2(epc []byte, pc uint16) uint16 {
	crc := uint16(0xFFFF)
	step := func(b byte) {
		crc ^= uint16(b) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	step(byte(pc >> 8))
	step(byte(pc))
	for _, b := range epc {
		step(b)
	}
	return crc
}

// TMVersion is the answer to GET_VERSION (opcode 0x03).
type TMVersion struct {
	Bootloader [4]byte
	Hardware   [4]byte
	FWDate     [4]byte
	Firmware   [4]byte
}

// ParseThingMagicVersion decodes the data of a GET_VERSION response.
func ParseThingMagicVersion(data []byte) (TMVersion, error) {
	var v TMVersion
	if len(data) < 16 {
		return v, fmt.Errorf("%w: ThingMagic version answer of %d bytes, want at least 16", ErrBadRecord, len(data))
	}
	copy(v.Bootloader[:], data[0:4])
	copy(v.Hardware[:], data[4:8])
	copy(v.FWDate[:], data[8:12])
	copy(v.Firmware[:], data[12:16])
	return v, nil
}

// Model names the module from the hardware version's first byte (MERCURY
// TMR_SR_ModelHardwareID).
func (v TMVersion) Model() string {
	switch v.Hardware[0] {
	case 0x18:
		return "M6e"
	case 0x19:
		return "M6e-I"
	case 0x20:
		return "M6e Micro"
	case 0x30:
		return "M6e Nano"
	case 0x38:
		return "M7e Pico"
	case 0x80:
		return "M3e"
	}
	return fmt.Sprintf("model 0x%02X", v.Hardware[0])
}

func dottedHex(b [4]byte) string {
	return fmt.Sprintf("%02X.%02X.%02X.%02X", b[0], b[1], b[2], b[3])
}

// String is what `rfidgw check` prints.
func (v TMVersion) String() string {
	return fmt.Sprintf("ThingMagic %s bootloader %s firmware %s (%02X%02X-%02X-%02X)",
		v.Model(), dottedHex(v.Bootloader), dottedHex(v.Firmware),
		v.FWDate[0], v.FWDate[1], v.FWDate[2], v.FWDate[3])
}

// tmRegions maps region names to the codes of SET_REGION (MERCURY TMR_Region).
var tmRegions = map[string]byte{
	"NA": 0x01, "EU": 0x02, "KR": 0x03, "IN": 0x04, "JP": 0x05, "PRC": 0x06,
	"EU2": 0x07, "EU3": 0x08, "KR2": 0x09, "PRC2": 0x0A, "AU": 0x0B, "NZ": 0x0C,
	"NA2": 0x0D, "NA3": 0x0E, "IS": 0x0F, "MY": 0x10, "ID": 0x11, "PH": 0x12,
	"TW": 0x13, "MO": 0x14, "RU": 0x15, "SG": 0x16, "JP2": 0x17, "JP3": 0x18,
	"VN": 0x19, "TH": 0x1A, "AR": 0x1B, "HK": 0x1C, "BD": 0x1D, "EU4": 0x1E,
	"OPEN": 0xFF,
}

// ThingMagicRegion returns the SET_REGION code for a region name (NA2, EU3,
// …, case-insensitive) or a number (13, 0x0D).
func ThingMagicRegion(name string) (byte, error) {
	if c, ok := tmRegions[strings.ToUpper(strings.TrimSpace(name))]; ok {
		return c, nil
	}
	if n, err := strconv.ParseUint(strings.TrimSpace(name), 0, 8); err == nil && n > 0 {
		return byte(n), nil
	}
	return 0, fmt.Errorf("unknown ThingMagic region %q (want one of NA NA2 NA3 EU EU2 EU3 EU4 KR KR2 IN JP JP2 JP3 PRC PRC2 AU NZ … OPEN, or a code like 0x0D)", name)
}

// Commands the Source sends (ThingMagic Mercury API, serial_reader_l3.c).
var (
	tmCmdVersion = encodeTMCommand(TMOpVersion, nil)
	tmCmdProgram = encodeTMCommand(TMOpCurrentProg, nil)
	tmCmdBoot    = encodeTMCommand(TMOpBootFirmware, nil)
	tmCmdGen2    = encodeTMCommand(TMOpSetProtocol, []byte{0x00, tmProtocolGen2})
	tmCmdStop    = encodeTMCommand(TMOpMultiProtocol, []byte{0x00, 0x00, 0x02})
	tmCmdStart   = encodeTMCommand(TMOpMultiProtocol, []byte{
		0x00, 0x00, // timeout 0: truly continuous
		0x01, // TM option: continuous
		TMOpReadMultiple,
		0x00, 0x00, // outer search flags
		tmProtocolGen2,
		0x07, // embedded command length
		TMOpReadMultiple,
		0x10,       // option: metadata present
		0x00, 0x1B, // CONFIGURED_LIST | TAG_STREAMING | LARGE_TAG_POPULATION
		0x03, 0xE8, // 1000 ms per search round
		byte(tmMetadataFlags >> 8), byte(tmMetadataFlags & 0xFF),
	})
)

func tmCmdRegion(code byte) []byte { return encodeTMCommand(TMOpSetRegion, []byte{code}) }

// tmCmdAntennas sets the logical antenna search list (option 2, tx/rx
// pairs, mono-static) used by the CONFIGURED_LIST search flag.
func tmCmdAntennas(ants []int) []byte {
	d := []byte{0x02}
	for _, a := range ants {
		d = append(d, byte(a), byte(a))
	}
	return encodeTMCommand(TMOpSetAntenna, d)
}
