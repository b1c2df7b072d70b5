package buffer

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	ev := testEvent(7)
	ev.Seq, ev.Gateway = 42, "floor3"
	committed := baseTime.Add(time.Second)
	rec := appendRecord(nil, &ev, committed)
	h, err := parseRecord(42, rec)
	if err != nil {
		t.Fatal(err)
	}
	if string(h.typ) != "rack_move" || string(h.key) != ev.EPC || fromUnixNano(h.time) != ev.Time ||
		fromUnixNano(h.committed) != committed || !bytes.Equal(h.value, ev.AppendJSON(nil)) {
		t.Fatalf("round trip: %+v", h)
	}
	// The seq is inside the CRC: the same bytes under another key fail.
	var re *RecordError
	if _, err := parseRecord(43, rec); !errors.As(err, &re) || re.Seq != 43 || !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("record under the wrong seq: %v", err)
	}
	// Every single-bit flip is caught.
	for i := range rec {
		for bit := range 8 {
			bad := bytes.Clone(rec)
			bad[i] ^= 1 << bit
			if _, err := parseRecord(42, bad); err == nil {
				t.Fatalf("flip of bit %d in byte %d not detected", bit, i)
			}
		}
	}
}

// FuzzParseRecord: damaged records give an error naming the seq, never a
// panic.
func FuzzParseRecord(f *testing.F) {
	ev := testEvent(1)
	ev.Seq, ev.Gateway = 1, "floor3"
	rec := appendRecord(nil, &ev, baseTime)
	f.Add(uint64(1), rec)
	f.Add(uint64(1), rec[:10])
	f.Add(uint64(2), []byte{})
	f.Add(uint64(3), []byte{1, 0, 0, 0, 0, 255})
	f.Fuzz(func(t *testing.T, seq uint64, b []byte) {
		h, err := parseRecord(seq, b)
		if err != nil {
			var re *RecordError
			if !errors.As(err, &re) || re.Seq != seq {
				t.Fatalf("error does not name seq %d: %v", seq, err)
			}
			return
		}
		if len(h.value) > len(b) {
			t.Fatal("value longer than the record")
		}
		_, _ = splitRecord(seq, b)
		_ = isGapRecord(b)
		_ = committedOf(b)
	})
}
