package llrp

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/rfidgw/rfidgw/reader"
)

// TagField flags say which optional fields of a TagReport the reader sent.
// Readers may omit fields they were asked for, so never assume one is there.
type TagField uint16

// Fields of a TagReport.
const (
	HasAntennaID TagField = 1 << iota
	HasPeakRSSI
	HasImpinjPeakRSSI
	HasChannelIndex
	HasTagSeenCount
	HasFirstSeenUTC
	HasLastSeenUTC
	HasFirstSeenUptime
	HasLastSeenUptime
	HasROSpecID
	HasSpecIndex
	HasIPSpecID
	HasPC
	HasCRC
	HasAccessSpecID
)

// TagReport is one TagReportData (240) of an RO_ACCESS_REPORT.
type TagReport struct {
	EPC            string // upper-case hex, from EPC-96 or EPCData
	Fields         TagField
	AntennaID      uint16
	PeakRSSI       int8  // dBm
	ImpinjPeakRSSI int16 // centi-dBm (Impinj custom parameter)
	ChannelIndex   uint16
	TagSeenCount   uint16
	PC, CRC        uint16
	SpecIndex      uint16
	IPSpecID       uint16
	ROSpecID       uint32
	AccessSpecID   uint32
	FirstSeenUTC   uint64 // µs since the Unix epoch
	LastSeenUTC    uint64
	FirstSeenUp    uint64 // µs since reader boot
	LastSeenUp     uint64
}

// Has reports whether all fields f are present.
func (t *TagReport) Has(f TagField) bool { return t.Fields&f == f }

// RSSI returns the peak RSSI in dBm, preferring Impinj's centi-dBm value.
func (t *TagReport) RSSI() (float64, bool) {
	switch {
	case t.Has(HasImpinjPeakRSSI):
		return float64(t.ImpinjPeakRSSI) / 100, true
	case t.Has(HasPeakRSSI):
		return float64(t.PeakRSSI), true
	}
	return 0, false
}

// ReportError is returned by DecodeROAccessReport when some TagReportData
// could not be decoded. The reports decoded before and after them are still
// returned; Count says how many were damaged and First is the first error.
type ReportError struct {
	Count int
	First error
}

func (e *ReportError) Error() string {
	if e.Count == 1 {
		return e.First.Error()
	}
	return fmt.Sprintf("%d bad TagReportData, first: %v", e.Count, e.First)
}

func (e *ReportError) Unwrap() error { return e.First }

// ROAccessReport is the RO_ACCESS_REPORT message. Use DecodeROAccessReport
// directly on the hot path; this type exists for the Message interface.
type ROAccessReport struct{ Tags []TagReport }

func (m *ROAccessReport) Type() MessageType { return MsgROAccessReport }
func (m *ROAccessReport) AppendBody(dst []byte) []byte {
	for i := range m.Tags {
		dst = m.Tags[i].Append(dst)
	}
	return dst
}
func (m *ROAccessReport) DecodeBody(b []byte) error {
	var err error
	m.Tags, err = DecodeROAccessReport(m.Tags[:0], b)
	return err
}

// DecodeROAccessReport appends the TagReportData of an RO_ACCESS_REPORT body
// to dst and returns it. It allocates only the EPC string of each report
// (reuse dst across calls). A TagReportData that cannot be fully decoded (an
// unknown TV parameter, a bad length inside it, no EPC) is left out: a read
// missing its antenna or RSSI would mislead the edge engine. Its outer
// length still lets the decoder go on with the next one; the error is then
// a *ReportError. Only a broken TagReportData length ends the decoding of
// the message.
func DecodeROAccessReport(dst []TagReport, body []byte) ([]TagReport, error) {
	var bad *ReportError
	fail := func(err error) {
		if bad == nil {
			bad = &ReportError{First: err}
		}
		bad.Count++
	}
	off := 0
	for off < len(body) {
		b := body[off:]
		if len(b) < 4 || b[0]&0x80 != 0 {
			fail(fmt.Errorf("%w: at byte %d of RO_ACCESS_REPORT: not a TLV parameter", ErrBadParameter, off))
			break
		}
		typ := binary.BigEndian.Uint16(b) & 0x3FF
		n := int(binary.BigEndian.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			fail(fmt.Errorf("%w: parameter type %d at byte %d of RO_ACCESS_REPORT has length %d, %d bytes left", ErrBadParameter, typ, off, n, len(b)))
			break
		}
		if typ == pTagReportData {
			dst = append(dst, TagReport{})
			t := &dst[len(dst)-1]
			if err := t.decode(b[4:n]); err != nil {
				fail(fmt.Errorf("TagReportData at byte %d: %w", off, err))
				dst = dst[:len(dst)-1]
			} else if t.EPC == "" {
				fail(fmt.Errorf("%w: TagReportData at byte %d has no EPC", ErrBadParameter, off))
				dst = dst[:len(dst)-1]
			}
		}
		// RFSurveyReportData, Custom and unknown parameters are skipped.
		off += n
	}
	if bad != nil {
		return dst, bad
	}
	return dst, nil
}

// decode parses the value of one TagReportData. It must stay
// allocation-free apart from the EPC string: it runs millions of times a
// second.
func (t *TagReport) decode(v []byte) error {
	for len(v) > 0 {
		c := v[0]
		if c&0x80 != 0 {
			typ := c & 0x7F
			n := int(tvLen[typ])
			if n == 0 {
				return fmt.Errorf("%w: type %d", ErrUnknownTV, typ)
			}
			if len(v) < 1+n {
				return fmt.Errorf("%w: TV type %d needs %d bytes, %d left", ErrShortMessage, typ, n, len(v)-1)
			}
			x := v[1 : 1+n]
			switch typ {
			case tvEPC96:
				t.EPC = reader.HexEPC(x)
			case tvAntennaID:
				t.AntennaID = binary.BigEndian.Uint16(x)
				t.Fields |= HasAntennaID
			case tvPeakRSSI:
				t.PeakRSSI = int8(x[0])
				t.Fields |= HasPeakRSSI
			case tvChannelIndex:
				t.ChannelIndex = binary.BigEndian.Uint16(x)
				t.Fields |= HasChannelIndex
			case tvTagSeenCount:
				t.TagSeenCount = binary.BigEndian.Uint16(x)
				t.Fields |= HasTagSeenCount
			case tvFirstSeenUTC:
				t.FirstSeenUTC = binary.BigEndian.Uint64(x)
				t.Fields |= HasFirstSeenUTC
			case tvLastSeenUTC:
				t.LastSeenUTC = binary.BigEndian.Uint64(x)
				t.Fields |= HasLastSeenUTC
			case tvFirstSeenUptime:
				t.FirstSeenUp = binary.BigEndian.Uint64(x)
				t.Fields |= HasFirstSeenUptime
			case tvLastSeenUptime:
				t.LastSeenUp = binary.BigEndian.Uint64(x)
				t.Fields |= HasLastSeenUptime
			case tvROSpecID:
				t.ROSpecID = binary.BigEndian.Uint32(x)
				t.Fields |= HasROSpecID
			case tvSpecIndex:
				t.SpecIndex = binary.BigEndian.Uint16(x)
				t.Fields |= HasSpecIndex
			case tvInventoryParameterSpecID:
				t.IPSpecID = binary.BigEndian.Uint16(x)
				t.Fields |= HasIPSpecID
			case tvC1G2PC:
				t.PC = binary.BigEndian.Uint16(x)
				t.Fields |= HasPC
			case tvC1G2CRC:
				t.CRC = binary.BigEndian.Uint16(x)
				t.Fields |= HasCRC
			case tvAccessSpecID:
				t.AccessSpecID = binary.BigEndian.Uint32(x)
				t.Fields |= HasAccessSpecID
			}
			v = v[1+n:]
			continue
		}
		if len(v) < 4 {
			return fmt.Errorf("%w: %d bytes left for a parameter header", ErrShortMessage, len(v))
		}
		typ := binary.BigEndian.Uint16(v) & 0x3FF
		n := int(binary.BigEndian.Uint16(v[2:]))
		if n < 4 || n > len(v) {
			return fmt.Errorf("%w: parameter type %d length %d with %d bytes left", ErrBadParameter, typ, n, len(v))
		}
		x := v[4:n]
		switch typ {
		case pEPCData:
			if len(x) < 2 {
				return fmt.Errorf("%w: EPCData of %d bytes", ErrShortMessage, len(x))
			}
			bits := int(binary.BigEndian.Uint16(x))
			nb := (bits + 7) / 8
			if 2+nb > len(x) {
				return fmt.Errorf("%w: EPCData of %d bits in %d bytes", ErrShortMessage, bits, len(x)-2)
			}
			if nb > 0 {
				t.EPC = reader.HexEPC(x[2 : 2+nb])
			}
		case pCustom:
			if len(x) >= 10 && binary.BigEndian.Uint32(x) == VendorImpinj &&
				binary.BigEndian.Uint32(x[4:]) == impinjPeakRSSISubtype {
				t.ImpinjPeakRSSI = int16(binary.BigEndian.Uint16(x[8:]))
				t.Fields |= HasImpinjPeakRSSI
			}
		}
		v = v[n:]
	}
	return nil
}

// Append appends t as a TagReportData parameter: EPC-96 for 96-bit EPCs,
// EPCData otherwise, then every field flagged in t.Fields in the order
// LLRP defines. An EPC that is not hex is encoded as an empty EPCData
// (the simulator validates EPCs before it gets here).
func (t *TagReport) Append(dst []byte) []byte {
	dst, st := appendTLVStart(dst, pTagReportData)
	var buf [64]byte
	epc := buf[:]
	if len(t.EPC) > 2*len(buf) {
		epc = make([]byte, len(t.EPC)/2)
	}
	n, err := hex.Decode(epc, []byte(t.EPC))
	if err != nil || n > 8192 {
		n = 0
	}
	if n == 12 {
		dst = append(dst, 0x80|tvEPC96)
		dst = append(dst, epc[:12]...)
	} else {
		var s int
		dst, s = appendTLVStart(dst, pEPCData)
		dst = binary.BigEndian.AppendUint16(dst, uint16(min(n*8, 0xFFFF))) // 8192 bytes: 65535 bits still need them all
		dst = append(dst, epc[:n]...)
		dst = finishTLV(dst, s)
	}
	tv16 := func(typ byte, v uint16) { dst = append(dst, 0x80|typ, byte(v>>8), byte(v)) }
	tv32 := func(typ byte, v uint32) { dst = binary.BigEndian.AppendUint32(append(dst, 0x80|typ), v) }
	tv64 := func(typ byte, v uint64) { dst = binary.BigEndian.AppendUint64(append(dst, 0x80|typ), v) }
	if t.Has(HasROSpecID) {
		tv32(tvROSpecID, t.ROSpecID)
	}
	if t.Has(HasSpecIndex) {
		tv16(tvSpecIndex, t.SpecIndex)
	}
	if t.Has(HasIPSpecID) {
		tv16(tvInventoryParameterSpecID, t.IPSpecID)
	}
	if t.Has(HasAntennaID) {
		tv16(tvAntennaID, t.AntennaID)
	}
	if t.Has(HasPeakRSSI) {
		dst = append(dst, 0x80|tvPeakRSSI, byte(t.PeakRSSI))
	}
	if t.Has(HasChannelIndex) {
		tv16(tvChannelIndex, t.ChannelIndex)
	}
	if t.Has(HasFirstSeenUTC) {
		tv64(tvFirstSeenUTC, t.FirstSeenUTC)
	}
	if t.Has(HasFirstSeenUptime) {
		tv64(tvFirstSeenUptime, t.FirstSeenUp)
	}
	if t.Has(HasLastSeenUTC) {
		tv64(tvLastSeenUTC, t.LastSeenUTC)
	}
	if t.Has(HasLastSeenUptime) {
		tv64(tvLastSeenUptime, t.LastSeenUp)
	}
	if t.Has(HasTagSeenCount) {
		tv16(tvTagSeenCount, t.TagSeenCount)
	}
	if t.Has(HasPC) {
		tv16(tvC1G2PC, t.PC)
	}
	if t.Has(HasCRC) {
		tv16(tvC1G2CRC, t.CRC)
	}
	if t.Has(HasAccessSpecID) {
		tv32(tvAccessSpecID, t.AccessSpecID)
	}
	if t.Has(HasImpinjPeakRSSI) {
		var s int
		dst, s = appendTLVStart(dst, pCustom)
		dst = binary.BigEndian.AppendUint32(dst, VendorImpinj)
		dst = binary.BigEndian.AppendUint32(dst, impinjPeakRSSISubtype)
		dst = binary.BigEndian.AppendUint16(dst, uint16(t.ImpinjPeakRSSI))
		dst = finishTLV(dst, s)
	}
	return finishTLV(dst, st)
}
