package serial

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// h parses a hex dump like "FF 00 03 1D 0C".
func h(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// ccittFalse is the stock CRC-16/CCITT-FALSE, to show the ThingMagic CRC is
// not it.
func ccittFalse(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc ^= uint16(x) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// tmCRCNibbles is the reference's nibble-wise definition, kept to check
// the byte-table version against.
func tmCRCNibbles(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc = (crc<<4 | uint16(x>>4)) ^ tmCRCTable[crc>>12]
		crc = (crc<<4 | uint16(x&0x0F)) ^ tmCRCTable[crc>>12]
	}
	return crc
}

func TestThingMagicCRCTable(t *testing.T) {
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(i*7 + i>>3)
	}
	for n := 0; n <= len(b); n++ {
		if a, c := ThingMagicCRC(b[:n]), tmCRCNibbles(b[:n]); a != c {
			t.Fatalf("length %d: byte table 0x%04X, nibbles 0x%04X", n, a, c)
		}
	}
}

func TestThingMagicCRCWorkedExample(t *testing.T) {
	got := ThingMagicCRC([]byte{0x00, 0x03})
	if got != 0x1D0C {
		t.Fatalf("CRC(00 03) = 0x%04X, want 0x1D0C (the Mercury serial protocol's CRC worked example)", got)
	}
	if c := ccittFalse([]byte{0x00, 0x03}); c != 0x2D6C || c == got {
		t.Fatalf("CCITT-FALSE(00 03) = 0x%04X; plain CRC-CCITT-FALSE gives 0x2D6C, which differs", c)
	}
}

// Golden command frames of the Mercury serial protocol (computed, and
// SparkFun's captured start/stop).
func TestThingMagicGoldenCommands(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"GET_VERSION", tmCmdVersion, "FF 00 03 1D 0C"},
		{"SET_TAG_PROTOCOL GEN2", tmCmdGen2, "FF 02 93 00 05 51 7D"},
		{"SET_REGION NA2", tmCmdRegion(0x0D), "FF 01 97 0D 4B B0"},
		{"SET_READ_TX_POWER 5 dBm", encodeTMCommand(0x92, []byte{0x01, 0xF4}), "FF 02 92 01 F4 40 AD"},
		{"SET_ANTENNA_PORT tx1/rx1", encodeTMCommand(0x91, []byte{0x01, 0x01}), "FF 02 91 01 01 70 3B"},
		{"disable read filter", encodeTMCommand(0x9A, []byte{0x01, 0x0C, 0x00}), "FF 03 9A 01 0C 00 A3 5D"},
		{"SET_BAUD_RATE 115200", encodeTMCommand(0x06, []byte{0x00, 0x01, 0xC2, 0x00}), "FF 04 06 00 01 C2 00 A4 60"},
		{"start continuous read", tmCmdStart, "FF 10 2F 00 00 01 22 00 00 05 07 22 10 00 1B 03 E8 01 FF DD 2B"},
		{"stop continuous read", tmCmdStop, "FF 03 2F 00 00 02 5E 86"},
	} {
		if want := h(t, tc.want); !bytes.Equal(tc.got, want) {
			t.Errorf("%s = % X, want % X", tc.name, tc.got, want)
		}
		// and the command decoder (the Simulator's side) accepts it
		d := NewThingMagicCommandDecoder()
		d.Feed(tc.got)
		f, err := d.Next()
		if err != nil || f.Opcode != tc.got[2] || len(f.Data) != int(tc.got[1]) {
			t.Errorf("%s: command decoder gave %+v, %v", tc.name, f, err)
		}
	}
}

// sparkfunRecord is SparkFun's documented tag record (M6e Nano, metadata 0x01FF).
const sparkfunRecord = "FF 28 22 00 00 10 00 1B 01 FF 01 01 C4 11 0E 16 40 00 00 01 27 00 00 05 00 00 0F 00 80 30 00 00 00 00 00 00 00 00 00 00 00 15 45 E9 4A 56 1D"

func TestThingMagicSparkFunRecord(t *testing.T) {
	d := NewThingMagicDecoder()
	d.Feed(h(t, sparkfunRecord))
	f, err := d.Next()
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if f.Opcode != 0x22 || f.Status != 0 || len(f.Data) != 0x28 {
		t.Fatalf("frame %+v", f)
	}
	rec, err := ParseThingMagicRecord(f)
	if err != nil {
		t.Fatal(err)
	}
	want := Tag{EPC: "000000000000000000001545", Antenna: 1, RSSI: -60, ReadCount: 1,
		FrequencyKHz: 923200, OffsetMs: 295, HasOffset: true}
	if rec.Kind != TMTag || rec.Tag != want {
		t.Fatalf("record %+v, want tag %+v", rec, want)
	}
	if _, err := d.Next(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("after the only frame: %v, want ErrIncomplete", err)
	}
}

func TestThingMagicEncodeTagRoundTrip(t *testing.T) {
	epc := h(t, "E2003098881900722140369E")
	for _, ant := range []int{1, 2, 4, 15, 16} {
		d := NewThingMagicDecoder()
		d.Feed(EncodeTMTag(epc, ant, -61, 915250, 1234))
		f, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		rec, err := ParseThingMagicRecord(f)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Kind != TMTag || rec.Tag.EPC != "E2003098881900722140369E" || rec.Tag.Antenna != ant ||
			rec.Tag.RSSI != -61 || rec.Tag.FrequencyKHz != 915250 || rec.Tag.OffsetMs != 1234 {
			t.Fatalf("antenna %d: %+v", ant, rec)
		}
	}
}

func TestThingMagicHeartbeatAndStatus(t *testing.T) {
	for _, tc := range []struct {
		status uint16
		data   []byte
		kind   TMRecordKind
	}{
		{0x0400, nil, TMHeartbeat},
		{0x0504, nil, TMWarning},
		{0x0505, nil, TMWarning},
		{0x0000, h(t, "10 00 1B 01 FF 00"), TMStreamEnd},
		{0x0000, h(t, "10 00 1B 01 FF 02 00 00"), TMStats},
	} {
		frame := EncodeTMResponse(0x22, tc.status, tc.data)
		if tc.status == 0x0400 && !bytes.Equal(frame[:5], h(t, "FF 00 22 04 00")) {
			t.Fatalf("heartbeat frame % X", frame)
		}
		d := NewThingMagicDecoder()
		d.Feed(frame)
		f, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		rec, err := ParseThingMagicRecord(f)
		if err != nil || rec.Kind != tc.kind {
			t.Errorf("status 0x%04X: %+v %v, want kind %d", tc.status, rec, err, tc.kind)
		}
	}
}

func TestThingMagicBadRecords(t *testing.T) {
	for name, data := range map[string]string{
		"too short":            "10 00 1B",
		"no metadata option":   "00 00 1B 01 FF 01",
		"unknown metadata":     "10 00 1B 02 00 01 00",
		"ends inside metadata": "10 00 1B 01 FF 01 01 C4",
		"EPC longer than data": "10 00 1B 00 00 01 00 80 30 00",
		"EPC bits not bytes":   "10 00 1B 00 00 01 00 21 30 00 11 22 33",
		"no EPC":               "10 00 1B 00 00 01 00 20 00 00 AB CD",
		"bad response type":    "10 00 1B 00 00 07",
	} {
		rec, err := ParseThingMagicRecord(TMFrame{Opcode: 0x22, Data: h(t, data)})
		if !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: %+v, %v; want ErrBadRecord", name, rec, err)
		}
	}
}

// The decoder resynchronises after garbage, reassembles split frames, takes
// several frames from one read and skips (and reports) a bad CRC.
func TestThingMagicDecoderRobust(t *testing.T) {
	tag := EncodeTMTag(h(t, "E2003098881900722140369E"), 2, -55, 915250, 1)
	beat := EncodeTMResponse(0x22, 0x0400, nil)
	bad := append([]byte(nil), tag...)
	bad[20] ^= 0x01 // payload bit flip: CRC no longer matches
	var stream []byte
	stream = append(stream, "garbage \x00\x01"...)
	stream = append(stream, tag...)
	stream = append(stream, beat...)
	stream = append(stream, bad...)
	stream = append(stream, 0xFF, 0x05, 0x22) // a stray head inside garbage
	stream = append(stream, "xyz"...)
	stream = append(stream, tag...)
	stream = append(stream, tag...)

	for _, chunk := range []int{1, 2, 3, 7, 13, 64, len(stream)} {
		d := NewThingMagicDecoder()
		var frames int
		var checksums, garbage int
		for off := 0; off < len(stream); off += chunk {
			d.Feed(stream[off:min(off+chunk, len(stream))])
			for {
				f, err := d.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				switch {
				case errors.Is(err, ErrChecksum):
					checksums++
				case errors.Is(err, ErrGarbage):
					garbage++
				case err != nil:
					t.Fatalf("chunk %d: %v", chunk, err)
				default:
					frames++
					if f.Opcode != 0x22 {
						t.Fatalf("chunk %d: frame %+v", chunk, f)
					}
				}
			}
		}
		// The stray head claims 5 data bytes, so it waits for 12 bytes and then fails its CRC.
		if frames != 4 || checksums < 2 || garbage < 1 {
			t.Errorf("chunk %d: %d frames, %d checksum errors, %d garbage runs; want 4, ≥2, ≥1", chunk, frames, checksums, garbage)
		}
		if d.Buffered() != 0 {
			t.Errorf("chunk %d: %d bytes left over", chunk, d.Buffered())
		}
	}
}

// A stray 0xFF with a large LEN would hold back the frames after it until
// 262 bytes arrived; Abandon (called when the line goes quiet) frees them.
func TestThingMagicAbandon(t *testing.T) {
	d := NewThingMagicDecoder()
	tag := EncodeTMTag(h(t, "E2003098881900722140369E"), 1, -50, 0, 0)
	d.Feed(append([]byte{0xFF, 0xF0}, tag...))
	if _, err := d.Next(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("want ErrIncomplete while the bogus frame may still complete, got %v", err)
	}
	if err := d.Abandon(); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Abandon: %v", err)
	}
	if f, err := d.Next(); err != nil || f.Opcode != 0x22 {
		t.Fatalf("after Abandon: %+v %v", f, err)
	}
	if err := d.Abandon(); err != nil {
		t.Fatalf("Abandon with nothing pending: %v", err)
	}
}

// nanoVersion is an M6e Nano's GET_VERSION answer (as serialsim sends it):
// bootloader, hardware, firmware date, firmware version, protocols (GEN2).
var nanoVersion = []byte{
	0x12, 0x08, 0x00, 0x00,
	0x30, 0x00, 0x00, 0x20,
	0x20, 0x16, 0x05, 0x03,
	0x01, 0x09, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x10,
}

func TestThingMagicVersion(t *testing.T) {
	v, err := ParseThingMagicVersion(nanoVersion)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.String(), "ThingMagic M6e Nano bootloader 12.08.00.00 firmware 01.09.00.02 (2016-05-03)"; got != want {
		t.Fatalf("version %q, want %q", got, want)
	}
	if _, err := ParseThingMagicVersion([]byte{1, 2, 3}); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("short version: %v", err)
	}
}

func TestThingMagicRegion(t *testing.T) {
	for in, want := range map[string]byte{"NA2": 0x0D, "eu3": 0x08, "NA": 0x01, "open": 0xFF, "0x0D": 0x0D, "13": 13} {
		if got, err := ThingMagicRegion(in); err != nil || got != want {
			t.Errorf("%q: 0x%02X %v, want 0x%02X", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MARS", "0", "300"} {
		if _, err := ThingMagicRegion(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// ---- R2000 ----

func TestR2000GoldenFrames(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"reset addr 1 (worked example)", EncodeR2000(0x01, 0x70, nil), "A0 03 01 70 EC"},
		{"get_firmware_version", r2000CmdVersion, "A0 03 FF 72 EC"},
		{"set_work_antenna(0)", r2000CmdAntenna(1), "A0 04 FF 74 00 E9"},
		{"real_time_inventory repeat FF addr 1", EncodeR2000(0x01, 0x89, []byte{0xFF}), "A0 04 01 89 FF D3"},
		{"real_time_inventory repeat 1 addr FF", EncodeR2000(0xFF, 0x89, []byte{0x01}), "A0 04 FF 89 01 D3"},
		{"get_inventory_buffer", EncodeR2000(0x01, 0x90, nil), "A0 03 01 90 CC"},
	} {
		if want := h(t, tc.want); !bytes.Equal(tc.got, want) {
			t.Errorf("%s = % X, want % X", tc.name, tc.got, want)
		}
	}
	// The worked example: the check byte covers the 0xA0 head.
	if c := R2000Checksum(h(t, "A0 03 01 70")); c != 0xEC {
		t.Fatalf("checksum 0x%02X, want 0xEC", c)
	}
}

// Third-party captures that only validate with the head included.
func TestR2000Captures(t *testing.T) {
	for _, s := range []string{
		"A0 04 01 90 38 93",
		"A0 19 01 90 00 01 10 30 00 E2 00 30 98 88 19 00 72 21 40 36 9E 4D D4 5B B4 6D E6",
	} {
		d := NewR2000Decoder()
		d.Feed(h(t, s))
		f, err := d.Next()
		if err != nil || f.Cmd != 0x90 || f.Addr != 0x01 {
			t.Errorf("%s: %+v %v", s, f, err)
		}
	}
}

func TestR2000InventoryRecords(t *testing.T) {
	d := NewR2000Decoder()
	d.Feed(h(t, "A0 13 01 89 1D 30 00 E2 00 30 98 88 19 00 72 21 40 36 9E 50 34"+
		"A0 0A 01 89 00 00 78 00 00 01 59 FA"+
		"A0 04 01 89 22 B0"))
	var recs []R2000Record
	for {
		f, err := d.Next()
		if errors.Is(err, ErrIncomplete) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseR2000Inventory(f)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	// FreqAnt 0x1D: frequency index 7, antenna bits 01, i.e. the second
	// port; the reference calls it "antenna 1" counting from 0, and its rule
	// antenna = (FreqAnt&3)+1 makes it port 2 in our 1-based numbering.
	want := Tag{EPC: "E2003098881900722140369E", Antenna: 2, RSSI: -49}
	if recs[0].Kind != R2000Tag || recs[0].Tag != want {
		t.Errorf("tag %+v, want %+v", recs[0], want)
	}
	if recs[1].Kind != R2000RoundEnd || recs[1].ReadRate != 120 || recs[1].TotalRead != 345 {
		t.Errorf("round end %+v, want 120 tags/s, 345 reads", recs[1])
	}
	if recs[2].Kind != R2000Error || recs[2].ErrorCode != 0x22 {
		t.Errorf("error %+v, want code 0x22", recs[2])
	}
}

func TestR2000EncodeTagRoundTrip(t *testing.T) {
	epc := h(t, "E2003098881900722140369E")
	for _, ant := range []int{1, 2, 3, 4, 5, 8} {
		d := NewR2000Decoder()
		d.Feed(EncodeR2000Tag(0x01, epc, ant, -57))
		f, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseR2000Inventory(f)
		if err != nil || r.Kind != R2000Tag || r.Tag.Antenna != ant || r.Tag.RSSI != -57 || r.Tag.EPC != "E2003098881900722140369E" {
			t.Fatalf("antenna %d: %+v %v", ant, r, err)
		}
	}
	// the reference's example record is what encodeR2000Tag makes for it
	if got := EncodeR2000Tag(0x01, epc, 2, -49); !bytes.Equal(got, h(t, "A0 13 01 89 1D 30 00 E2 00 30 98 88 19 00 72 21 40 36 9E 50 34")) {
		t.Fatalf("encodeR2000Tag = % X", got)
	}
}

func TestR2000DecoderRobust(t *testing.T) {
	tag := h(t, "A0 13 01 89 1D 30 00 E2 00 30 98 88 19 00 72 21 40 36 9E 50 34")
	bad := append([]byte(nil), tag...)
	bad[10] ^= 0x40
	var stream []byte
	stream = append(stream, "noise\xA0\x01"...) // a head with Len < 3
	stream = append(stream, tag...)
	stream = append(stream, bad...)
	stream = append(stream, 0x00, 0x13)
	stream = append(stream, tag...)
	for _, chunk := range []int{1, 5, 16, len(stream)} {
		d := NewR2000Decoder()
		frames, errs := 0, 0
		for off := 0; off < len(stream); off += chunk {
			d.Feed(stream[off:min(off+chunk, len(stream))])
			for {
				_, err := d.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					errs++
					continue
				}
				frames++
			}
		}
		if frames != 2 || errs < 3 {
			t.Errorf("chunk %d: %d frames, %d errors; want 2 and ≥3", chunk, frames, errs)
		}
	}
}

func TestR2000BadRecords(t *testing.T) {
	for name, data := range map[string]string{
		"short":         "1D 30 00",
		"odd EPC":       "1D 30 00 E2 00 30 11 22 50",
		"len 5 neither": "1D 30 00 E2 00",
	} {
		if r, err := ParseR2000Inventory(R2000Frame{Cmd: 0x89, Data: h(t, data)}); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: %+v %v", name, r, err)
		}
	}
	if _, err := ParseR2000Version(R2000Frame{Cmd: 0x72, Data: []byte{1}}); !errors.Is(err, ErrBadRecord) {
		t.Errorf("short version: %v", err)
	}
}

// ---- ASCII ----

func TestASCIIDefaultPattern(t *testing.T) {
	d, err := NewASCIIDecoder("")
	if err != nil {
		t.Fatal(err)
	}
	d.Feed([]byte("E2003098881900722140369E\r\n" +
		"e2003098881900722140369f,2,-61.5\n" +
		"\r\n" +
		"E2003098881900722140369E 3 -70\r" +
		"E2003098881900722140369E;4\n" +
		"  E2003098881900722140369E\t,\t5 , -40  \n" +
		"(No Tags)\n" +
		"E2003\n" + // odd number of digits
		"AABB"))
	want := []Tag{
		{EPC: "E2003098881900722140369E", Antenna: 1},
		{EPC: "E2003098881900722140369F", Antenna: 2, RSSI: -61.5},
		{EPC: "E2003098881900722140369E", Antenna: 3, RSSI: -70},
		{EPC: "E2003098881900722140369E", Antenna: 4},
		{EPC: "E2003098881900722140369E", Antenna: 5, RSSI: -40},
	}
	var got []Tag
	var errs []error
	for {
		tag, err := d.Next()
		if errors.Is(err, ErrIncomplete) {
			break
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, tag)
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(errs) != 2 || !errors.Is(errs[0], ErrNoMatch) || !errors.Is(errs[1], ErrBadRecord) {
		t.Errorf("errors %v, want no-match then bad record", errs)
	}
	if d.Buffered() != 4 {
		t.Errorf("the unterminated line should wait: %d bytes buffered", d.Buffered())
	}
	if err := d.Abandon(); !errors.Is(err, ErrTruncated) || d.Buffered() != 0 {
		t.Errorf("Abandon: %v, %d left", err, d.Buffered())
	}
}

func TestASCIICustomPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern, line string
		want          Tag
	}{
		{ // Alien Text format, 0-based antennas
			`^Tag:(?P<epc>[0-9A-F ]+), Disc:.*Ant:(?P<antenna0>\d+)`,
			"Tag:1115 F268 81C3 C012, Disc:2003/01/21 09:00:51, Last:2003/01/21 09:00:51, Count:4, Ant:0",
			Tag{EPC: "1115F26881C3C012", Antenna: 1},
		},
		{ // Alien Terse: ID, reads, antenna
			`^(?P<epc>[0-9A-F ]+),\d+,(?P<antenna0>\d+)$`,
			"1115 F268 81C3 C012,4,1",
			Tag{EPC: "1115F26881C3C012", Antenna: 2},
		},
		{ // Speedway Connect style: antenna_port,epc,first_seen,peak_rssi
			`^(?P<antenna>\d+),"(?P<epc>[0-9A-Fa-f]+)",\d+,(?P<rssi>-?[\d.]+)`,
			`1,"300833B2DDD9014000000000",1416417329870163,-54.5`,
			Tag{EPC: "300833B2DDD9014000000000", Antenna: 1, RSSI: -54.5},
		},
	} {
		d, err := NewASCIIDecoder(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		d.Feed([]byte(tc.line + "\r\n"))
		got, err := d.Next()
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{`(`, `^[0-9A-F]+$`} {
		if _, err := NewASCIIDecoder(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("pattern %q: %v, want ErrConfig", bad, err)
		}
	}
	d, _ := NewASCIIDecoder(`^(?P<epc>\w+),(?P<antenna>\w+),(?P<rssi>\S+)$`)
	for _, line := range []string{"AABB,x,-1", "AABB,0,-1", "AABB,1,loud", "AABB,1,999"} {
		if _, err := d.ParseLine([]byte(line)); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%q: %v, want ErrBadRecord", line, err)
		}
	}
}

func TestASCIILongLine(t *testing.T) {
	d, _ := NewASCIIDecoder("")
	d.Feed(bytes.Repeat([]byte("A"), MaxLineLength+10))
	if _, err := d.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("want ErrLineTooLong, got %v", err)
	}
	d.Feed([]byte("AAAA\nBBBB\n"))
	tag, err := d.Next()
	if err != nil || tag.EPC != "BBBB" {
		t.Fatalf("after the long line: %+v %v (its tail must be dropped, the next line kept)", tag, err)
	}
}

// A tag with an XPC word (PC bit 0x0200) and one with XPC_W2 as well: the
// EPC starts after them.
func TestThingMagicXPC(t *testing.T) {
	for _, tc := range []struct{ pcAndXPC, epc string }{
		{"3200 0000", "E2003098881900722140369E"},
		{"3200 8000 0000", "E2003098881900722140369E"},
	} {
		body := h(t, tc.pcAndXPC+tc.epc+"ABCD")
		d := h(t, "10 00 1B 00 06 01 C4 11") // metadata RSSI + antenna
		d = append(d, byte(len(body)*8>>8), byte(len(body)*8))
		d = append(d, body...)
		rec, err := ParseThingMagicRecord(TMFrame{Opcode: 0x22, Data: d})
		if err != nil || rec.Tag.EPC != tc.epc || rec.Tag.RSSI != -60 || rec.Tag.Antenna != 1 {
			t.Errorf("%s: %+v %v", tc.pcAndXPC, rec, err)
		}
	}
}
