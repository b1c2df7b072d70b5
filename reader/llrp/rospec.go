package llrp

import (
	"encoding/binary"
	"fmt"
)

// ROSpec start trigger types.
const (
	StartNull      uint8 = 0 // waits for START_ROSPEC
	StartImmediate uint8 = 1 // starts on ENABLE_ROSPEC
	StartPeriodic  uint8 = 2
)

// ROReportTrigger values (the LLRP standard's ROReportTrigger enumeration). 3..6 exist only in LLRP 1.1.
const (
	ReportNone               uint8 = 0
	ReportNTagsOrEndOfAISpec uint8 = 1
	ReportNTagsOrEndOfROSpec uint8 = 2
	ReportNSecondsOrEndOfAI  uint8 = 3
	ReportNSecondsOrEndOfRO  uint8 = 4
	ReportNMillisOrEndOfAI   uint8 = 5
	ReportNMillisOrEndOfRO   uint8 = 6
)

// TagReportContentSelector flags: which optional fields the reader puts in
// each TagReportData.
const (
	SelROSpecID     uint16 = 1 << 15
	SelSpecIndex    uint16 = 1 << 14
	SelIPSpecID     uint16 = 1 << 13
	SelAntennaID    uint16 = 1 << 12
	SelChannelIndex uint16 = 1 << 11
	SelPeakRSSI     uint16 = 1 << 10
	SelFirstSeen    uint16 = 1 << 9
	SelLastSeen     uint16 = 1 << 8
	SelTagSeenCount uint16 = 1 << 7
	SelAccessSpecID uint16 = 1 << 6
)

// ROSpec is a reader operation spec with one AISpec, which is all a
// continuous inventory needs. When decoding a ROSpec with several AISpecs
// their antennas are merged.
type ROSpec struct {
	ID           uint32
	Priority     uint8
	CurrentState uint8 // 0 Disabled (required in ADD_ROSPEC), 1 Inactive, 2 Active

	StartTrigger     uint8 // Start* constants
	PeriodicOffsetMS uint32
	PeriodicPeriodMS uint32
	StopTrigger      uint8 // 0 Null, 1 Duration
	StopDurationMS   uint32

	Antennas             []uint16 // [0] means all antennas
	AIStopTrigger        uint8    // 0 Null, 1 Duration
	AIStopDurationMS     uint32
	InventoryParamSpecID uint16
	ProtocolID           uint8 // 1 = EPCglobal Class 1 Gen 2

	HasReportSpec   bool
	ReportTrigger   uint8 // Report* constants
	ReportN         uint16
	ContentSelector uint16 // Sel* flags
}

// HasAntenna reports whether the ROSpec inventories antenna a.
func (r *ROSpec) HasAntenna(a uint16) bool {
	for _, x := range r.Antennas {
		if x == 0 || x == a {
			return true
		}
	}
	return false
}

func (r *ROSpec) append(dst []byte) []byte {
	dst, st := appendTLVStart(dst, pROSpec)
	dst = binary.BigEndian.AppendUint32(dst, r.ID)
	dst = append(dst, r.Priority, r.CurrentState)

	var b, s int
	dst, b = appendTLVStart(dst, pROBoundarySpec)
	dst, s = appendTLVStart(dst, pROSpecStartTrigger)
	dst = append(dst, r.StartTrigger)
	if r.StartTrigger == StartPeriodic {
		var p int
		dst, p = appendTLVStart(dst, pPeriodicTriggerValue)
		dst = binary.BigEndian.AppendUint32(dst, r.PeriodicOffsetMS)
		dst = binary.BigEndian.AppendUint32(dst, r.PeriodicPeriodMS)
		dst = finishTLV(dst, p)
	}
	dst = finishTLV(dst, s)
	dst, s = appendTLVStart(dst, pROSpecStopTrigger)
	dst = append(dst, r.StopTrigger)
	dst = binary.BigEndian.AppendUint32(dst, r.StopDurationMS)
	dst = finishTLV(dst, s)
	dst = finishTLV(dst, b)

	dst, b = appendTLVStart(dst, pAISpec)
	ants := r.Antennas
	if len(ants) == 0 {
		ants = []uint16{0}
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(ants)))
	for _, a := range ants {
		dst = binary.BigEndian.AppendUint16(dst, a)
	}
	dst, s = appendTLVStart(dst, pAISpecStopTrigger)
	dst = append(dst, r.AIStopTrigger)
	dst = binary.BigEndian.AppendUint32(dst, r.AIStopDurationMS)
	dst = finishTLV(dst, s)
	dst, s = appendTLVStart(dst, pInventoryParameterSpec)
	dst = binary.BigEndian.AppendUint16(dst, r.InventoryParamSpecID)
	dst = append(dst, r.ProtocolID)
	dst = finishTLV(dst, s)
	dst = finishTLV(dst, b)

	if r.HasReportSpec {
		dst, b = appendTLVStart(dst, pROReportSpec)
		dst = append(dst, r.ReportTrigger)
		dst = binary.BigEndian.AppendUint16(dst, r.ReportN)
		dst, s = appendTLVStart(dst, pTagReportContentSelector)
		dst = binary.BigEndian.AppendUint16(dst, r.ContentSelector)
		dst = finishTLV(dst, s)
		dst = finishTLV(dst, b)
	}
	return finishTLV(dst, st)
}

func (r *ROSpec) decode(v []byte) error {
	*r = ROSpec{}
	if len(v) < 6 {
		return fmt.Errorf("%w: ROSpec of %d bytes", ErrShortMessage, len(v))
	}
	r.ID = binary.BigEndian.Uint32(v)
	r.Priority = v[4]
	r.CurrentState = v[5]
	var sawBoundary, sawAI bool
	for rest := v[6:]; len(rest) > 0; {
		p, rr, err := nextTLV(rest, "ROSpec")
		if err != nil {
			return err
		}
		rest = rr
		switch p.typ {
		case pROBoundarySpec:
			if err := r.decodeBoundary(p.val); err != nil {
				return err
			}
			sawBoundary = true
		case pAISpec:
			if err := r.decodeAISpec(p.val); err != nil {
				return err
			}
			sawAI = true
		case pROReportSpec:
			if len(p.val) < 3 {
				return fmt.Errorf("%w: ROReportSpec of %d bytes", ErrShortMessage, len(p.val))
			}
			r.HasReportSpec = true
			r.ReportTrigger = p.val[0]
			r.ReportN = binary.BigEndian.Uint16(p.val[1:])
			for sub := p.val[3:]; len(sub) > 0; {
				q, sr, err := nextTLV(sub, "ROReportSpec")
				if err != nil {
					return err
				}
				sub = sr
				if q.typ == pTagReportContentSelector && len(q.val) >= 2 {
					r.ContentSelector = binary.BigEndian.Uint16(q.val)
				}
			}
		}
	}
	if !sawBoundary {
		return fmt.Errorf("%w: ROSpec %d has no ROBoundarySpec", ErrBadParameter, r.ID)
	}
	if !sawAI {
		return fmt.Errorf("%w: ROSpec %d has no AISpec", ErrBadParameter, r.ID)
	}
	return nil
}

func (r *ROSpec) decodeBoundary(v []byte) error {
	for rest := v; len(rest) > 0; {
		p, rr, err := nextTLV(rest, "ROBoundarySpec")
		if err != nil {
			return err
		}
		rest = rr
		switch p.typ {
		case pROSpecStartTrigger:
			if len(p.val) < 1 {
				return fmt.Errorf("%w: empty ROSpecStartTrigger", ErrShortMessage)
			}
			r.StartTrigger = p.val[0]
			for sub := p.val[1:]; len(sub) > 0; {
				q, sr, err := nextTLV(sub, "ROSpecStartTrigger")
				if err != nil {
					return err
				}
				sub = sr
				if q.typ == pPeriodicTriggerValue && len(q.val) >= 8 {
					r.PeriodicOffsetMS = binary.BigEndian.Uint32(q.val)
					r.PeriodicPeriodMS = binary.BigEndian.Uint32(q.val[4:])
				}
			}
		case pROSpecStopTrigger:
			if len(p.val) < 5 {
				return fmt.Errorf("%w: ROSpecStopTrigger of %d bytes", ErrShortMessage, len(p.val))
			}
			r.StopTrigger = p.val[0]
			r.StopDurationMS = binary.BigEndian.Uint32(p.val[1:])
		}
	}
	return nil
}

func (r *ROSpec) decodeAISpec(v []byte) error {
	if len(v) < 2 {
		return fmt.Errorf("%w: AISpec of %d bytes", ErrShortMessage, len(v))
	}
	n := int(binary.BigEndian.Uint16(v))
	if 2+2*n > len(v) {
		return fmt.Errorf("%w: AISpec announces %d antennas in %d bytes", ErrShortMessage, n, len(v))
	}
	for i := 0; i < n; i++ {
		r.Antennas = append(r.Antennas, binary.BigEndian.Uint16(v[2+2*i:]))
	}
	for rest := v[2+2*n:]; len(rest) > 0; {
		p, rr, err := nextTLV(rest, "AISpec")
		if err != nil {
			return err
		}
		rest = rr
		switch p.typ {
		case pAISpecStopTrigger:
			if len(p.val) < 5 {
				return fmt.Errorf("%w: AISpecStopTrigger of %d bytes", ErrShortMessage, len(p.val))
			}
			r.AIStopTrigger = p.val[0]
			r.AIStopDurationMS = binary.BigEndian.Uint32(p.val[1:])
		case pInventoryParameterSpec:
			if len(p.val) < 3 {
				return fmt.Errorf("%w: InventoryParameterSpec of %d bytes", ErrShortMessage, len(p.val))
			}
			r.InventoryParamSpecID = binary.BigEndian.Uint16(p.val)
			r.ProtocolID = p.val[2]
		}
	}
	return nil
}
