package serial

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rfidgw/rfidgw/reader"
)

// The fuzz targets check that each decoder never panics, never loops, gives
// the same frames however the bytes are split across reads, and only
// returns frames whose checksum holds. Seeds: testdata/fuzz/<target>/.

// chunked feeds data to feed in pieces of 1..64 bytes (chosen by split),
// calling drain after each piece.
func chunked(data []byte, split byte, feed func([]byte), drain func()) {
	step := 1 + int(split)%64
	for off := 0; off < len(data); off += step {
		feed(data[off:min(off+step, len(data))])
		drain()
	}
}

type frameCopy struct {
	op     byte
	status uint16
	data   string
}

func FuzzThingMagic(f *testing.F) {
	f.Add(h(f, sparkfunRecord), byte(0))
	f.Add(append([]byte("junk\xff\x01"), tmCmdStart...), byte(3))
	f.Fuzz(func(t *testing.T, data []byte, split byte) {
		if a, c := ThingMagicCRC(data), tmCRCNibbles(data); a != c {
			t.Fatalf("CRC byte table 0x%04X, nibbles 0x%04X", a, c)
		}
		for _, commands := range []bool{false, true} {
			decode := func(all bool) ([]frameCopy, int) {
				d := NewThingMagicDecoder()
				if commands {
					d = NewThingMagicCommandDecoder()
				}
				var out []frameCopy
				drain := func() {
					for i := 0; ; i++ {
						if i > len(data)+1 {
							t.Fatalf("Next made no progress")
						}
						fr, err := d.Next()
						if errors.Is(err, ErrIncomplete) {
							return
						}
						if err != nil {
							var fe *FrameError
							if !errors.As(err, &fe) || fe.Skipped <= 0 {
								t.Fatalf("error %v without skipped bytes", err)
							}
							continue
						}
						out = append(out, frameCopy{fr.Opcode, fr.Status, string(fr.Data)})
						if !commands {
							rec, err := ParseThingMagicRecord(fr)
							if err == nil && rec.Kind == TMTag {
								if _, err := reader.NormalizeEPC(rec.Tag.EPC); err != nil {
									t.Fatalf("tag with bad EPC %q", rec.Tag.EPC)
								}
							}
							if fr.Opcode == TMOpVersion {
								ParseThingMagicVersion(fr.Data)
							}
						}
					}
				}
				if all {
					d.Feed(data)
					drain()
				} else {
					chunked(data, split, d.Feed, drain)
				}
				left := d.Buffered()
				for d.Abandon() != nil {
					drain()
				}
				if d.Buffered() != 0 {
					t.Fatalf("Abandon left %d bytes", d.Buffered())
				}
				return out, left
			}
			whole, leftW := decode(true)
			parts, leftP := decode(false)
			if len(whole) != len(parts) || leftW != leftP {
				t.Fatalf("commands=%v: %d frames (%d left) whole, %d (%d left) chunked", commands, len(whole), leftW, len(parts), leftP)
			}
			for i := range whole {
				if whole[i] != parts[i] {
					t.Fatalf("frame %d differs: %+v vs %+v", i, whole[i], parts[i])
				}
				fr := whole[i]
				var enc []byte
				if commands {
					enc = encodeTMCommand(fr.op, []byte(fr.data))
				} else {
					enc = EncodeTMResponse(fr.op, fr.status, []byte(fr.data))
				}
				if !bytes.Contains(data, enc) {
					t.Fatalf("frame %d re-encoded is not in the input", i)
				}
			}
		}
	})
}

func FuzzR2000(f *testing.F) {
	f.Add(h(f, "A0 13 01 89 1D 30 00 E2 00 30 98 88 19 00 72 21 40 36 9E 50 34"), byte(0))
	f.Add(h(f, "00 A0 01 A0 0A 01 89 00 00 78 00 00 01 59 FA A0 04 01 89 22 B0"), byte(2))
	f.Fuzz(func(t *testing.T, data []byte, split byte) {
		decode := func(all bool) ([]string, int) {
			d := NewR2000Decoder()
			var out []string
			drain := func() {
				for i := 0; ; i++ {
					if i > len(data)+1 {
						t.Fatalf("Next made no progress")
					}
					fr, err := d.Next()
					if errors.Is(err, ErrIncomplete) {
						return
					}
					if err != nil {
						continue
					}
					enc := EncodeR2000(fr.Addr, fr.Cmd, fr.Data)
					if !bytes.Contains(data, enc) {
						t.Fatalf("frame % X re-encoded is not in the input", enc)
					}
					out = append(out, string(enc))
					rec, err := ParseR2000Inventory(fr)
					if err == nil && rec.Kind == R2000Tag {
						if _, err := reader.NormalizeEPC(rec.Tag.EPC); err != nil || rec.Tag.Antenna < 1 || rec.Tag.Antenna > 8 {
							t.Fatalf("bad tag %+v", rec.Tag)
						}
					}
					ParseR2000Version(fr)
				}
			}
			if all {
				d.Feed(data)
				drain()
			} else {
				chunked(data, split, d.Feed, drain)
			}
			left := d.Buffered()
			for d.Abandon() != nil {
				drain()
			}
			return out, left
		}
		whole, lw := decode(true)
		parts, lp := decode(false)
		if len(whole) != len(parts) || lw != lp {
			t.Fatalf("%d frames (%d left) whole, %d (%d left) chunked", len(whole), lw, len(parts), lp)
		}
		for i := range whole {
			if whole[i] != parts[i] {
				t.Fatalf("frame %d differs", i)
			}
		}
	})
}

func FuzzASCII(f *testing.F) {
	f.Add([]byte("E2003098881900722140369E\r\nE2003098881900722140369F,2,-61.5\n"), byte(0))
	f.Add([]byte("junk\r\n\r\n300833B2DDD9014000000001 3 -70\rAABB;1;-4"), byte(5))
	f.Fuzz(func(t *testing.T, data []byte, split byte) {
		decode := func(all bool) ([]Tag, int) {
			d, err := NewASCIIDecoder("")
			if err != nil {
				t.Fatal(err)
			}
			var out []Tag
			drain := func() {
				for i := 0; ; i++ {
					if i > len(data)+1 {
						t.Fatalf("Next made no progress")
					}
					tag, err := d.Next()
					if errors.Is(err, ErrIncomplete) {
						return
					}
					if err != nil {
						continue
					}
					if _, err := reader.NormalizeEPC(tag.EPC); err != nil || tag.Antenna < 1 {
						t.Fatalf("bad tag %+v", tag)
					}
					out = append(out, tag)
				}
			}
			if all {
				d.Feed(data)
				drain()
			} else {
				chunked(data, split, d.Feed, drain)
			}
			return out, d.Buffered()
		}
		// The hand-written fast path must agree with the regular expression.
		slow, _ := NewASCIIDecoder("")
		slow.fast = false
		fast, _ := NewASCIIDecoder("")
		for _, line := range bytes.FieldsFunc(data, func(r rune) bool { return r == '\r' || r == '\n' }) {
			g, ok := splitDefaultLine(line)
			m := slow.re.FindSubmatch(line)
			if ok != (m != nil) {
				t.Fatalf("line %q: fast path match=%v, regexp match=%v", line, ok, m != nil)
			}
			if ok {
				for k, i := range []int{slow.epc, slow.ant, slow.rs} {
					if !bytes.Equal(g[k], m[i]) || (g[k] == nil) != (m[i] == nil) {
						t.Fatalf("line %q: group %d fast %q, regexp %q", line, k, g[k], m[i])
					}
				}
			}
			t1, err1 := fast.ParseLine(line)
			t2, err2 := slow.ParseLine(line)
			if t1 != t2 || (err1 == nil) != (err2 == nil) {
				t.Fatalf("line %q: fast %+v %v, regexp %+v %v", line, t1, err1, t2, err2)
			}
		}
		whole, lw := decode(true)
		parts, lp := decode(false)
		if len(whole) != len(parts) {
			t.Fatalf("%d tags whole, %d chunked (left %d/%d)", len(whole), len(parts), lw, lp)
		}
		for i := range whole {
			if whole[i] != parts[i] {
				t.Fatalf("tag %d: %+v vs %+v", i, whole[i], parts[i])
			}
		}
	})
}
