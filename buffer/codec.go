package buffer

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/rfidgw/rfidgw/edge"
)

// A stored record (the bbolt value under the 8-byte big-endian seq key):
//
//	[0]      format version (1)
//	[1:5]    CRC32C (Castagnoli), big-endian, over the 8-byte seq key and bytes [5:]
//	[5]      length T of the type, then T bytes of type
//	uvarint  length K of the Kafka key, then K bytes of key
//	8 bytes  event time, Unix ns (0 = zero time)
//	8 bytes  commit time, Unix ns
//	rest     the event JSON (docs/events.md)
//
// The seq is inside the CRC so a record under the wrong key is caught too.
const (
	recFormat  = 1
	recCRCOff  = 1
	recTypeOff = 5
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func putSeqKey(dst []byte, seq uint64) []byte {
	binary.BigEndian.PutUint64(dst, seq)
	return dst[:8]
}

func keySeq(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// appendRecord appends the stored form of ev (whose Seq and Gateway are
// already set) to dst.
func appendRecord(dst []byte, ev *edge.Event, committed time.Time) []byte {
	start := len(dst)
	typ := string(ev.Type)
	if len(typ) > 255 {
		typ = typ[:255] // validated by Append; never truncates in practice
	}
	key := ev.Key()
	dst = append(dst, recFormat, 0, 0, 0, 0, byte(len(typ)))
	dst = append(dst, typ...)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(unixNano(ev.Time)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(unixNano(committed)))
	dst = ev.AppendJSON(dst)
	sealRecord(dst[start:], ev.Seq)
	return dst
}

func recordCRC(seq uint64, rec []byte) uint32 {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	c := crc32.Update(0, castagnoli, k[:])
	return crc32.Update(c, castagnoli, rec[recTypeOff:])
}

func sealRecord(rec []byte, seq uint64) {
	binary.BigEndian.PutUint32(rec[recCRCOff:], recordCRC(seq, rec))
}

// recordHeader is the decoded fixed part of a record; its slices point into
// the record.
type recordHeader struct {
	typ       []byte
	key       []byte
	time      int64
	committed int64
	value     []byte
}

// parseRecord checks the CRC and splits a stored record.
func parseRecord(seq uint64, rec []byte) (recordHeader, error) {
	var h recordHeader
	if len(rec) < recTypeOff+1 {
		return h, &RecordError{Seq: seq, Reason: "record too short (" + itoa(len(rec)) + " bytes)"}
	}
	if rec[0] != recFormat {
		return h, &RecordError{Seq: seq, Reason: "unknown record format " + itoa(int(rec[0]))}
	}
	if got, want := recordCRC(seq, rec), binary.BigEndian.Uint32(rec[recCRCOff:]); got != want {
		return h, &RecordError{Seq: seq, Reason: "CRC32C mismatch (stored " + hex32(want) + ", computed " + hex32(got) + ")"}
	}
	return splitRecord(seq, rec)
}

// splitRecord splits a record without checking its CRC.
func splitRecord(seq uint64, rec []byte) (recordHeader, error) {
	var h recordHeader
	bad := func(what string) (recordHeader, error) {
		return recordHeader{}, &RecordError{Seq: seq, Reason: "truncated " + what}
	}
	if len(rec) < recTypeOff+1 {
		return bad("header")
	}
	p := recTypeOff + 1
	tl := int(rec[recTypeOff])
	if len(rec) < p+tl {
		return bad("type")
	}
	h.typ = rec[p : p+tl]
	p += tl
	kl, n := binary.Uvarint(rec[p:])
	if n <= 0 || uint64(len(rec)-p-n) < kl {
		return bad("key")
	}
	p += n
	h.key = rec[p : p+int(kl)]
	p += int(kl)
	if len(rec) < p+16 {
		return bad("times")
	}
	h.time = int64(binary.BigEndian.Uint64(rec[p:]))
	h.committed = int64(binary.BigEndian.Uint64(rec[p+8:]))
	h.value = rec[p+16:]
	return h, nil
}

// isGapRecord tells from the header alone whether a record is a gap event.
func isGapRecord(rec []byte) bool {
	return len(rec) >= recTypeOff+4 && rec[recTypeOff] == 3 && string(rec[recTypeOff+1:recTypeOff+4]) == string(edge.Gap)
}

// committedOf reads a record's commit time without checking the CRC (for
// statistics only).
func committedOf(rec []byte) time.Time {
	h, err := splitRecord(0, rec)
	if err != nil {
		return time.Time{}
	}
	return fromUnixNano(h.committed)
}

// typeString interns the common event types so that a Lease does not
// allocate a string per record.
func typeString(b []byte) string {
	switch string(b) {
	case string(edge.Inward):
		return string(edge.Inward)
	case string(edge.Outward):
		return string(edge.Outward)
	case string(edge.RackMove):
		return string(edge.RackMove)
	case string(edge.RackDepart):
		return string(edge.RackDepart)
	case string(edge.Gap):
		return string(edge.Gap)
	}
	return string(b)
}

func itoa(n int) string { return strconv.Itoa(n) }

func hex32(v uint32) string { return fmt.Sprintf("0x%08x", v) }
