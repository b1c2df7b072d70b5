package llrp

import (
	"encoding/binary"
	"fmt"
)

// Parameter type numbers (parameter encodings of the LLRP standard's binary encoding (LLRP 1.0.1 and 1.1; machine-readable in the LLRP Toolkit's llrp-1x0-def.xml)). TV types are 1..127, TLV types
// 128..1023.
const (
	tvAntennaID                = 1
	tvFirstSeenUTC             = 2
	tvFirstSeenUptime          = 3
	tvLastSeenUTC              = 4
	tvLastSeenUptime           = 5
	tvPeakRSSI                 = 6
	tvChannelIndex             = 7
	tvTagSeenCount             = 8
	tvROSpecID                 = 9
	tvInventoryParameterSpecID = 10
	tvC1G2CRC                  = 11
	tvC1G2PC                   = 12
	tvEPC96                    = 13
	tvSpecIndex                = 14
	tvClientRequestOpSpecRes   = 15
	tvAccessSpecID             = 16
	tvOpSpecID                 = 17
	tvC1G2SingulationDetails   = 18
	tvC1G2XPCW1                = 19
	tvC1G2XPCW2                = 20

	pUTCTimestamp                = 128
	pUptime                      = 129
	pGeneralDeviceCapabilities   = 137
	pReceiveSensitivityEntry     = 139
	pPerAntennaAirProtocol       = 140
	pGPIOCapabilities            = 141
	pLLRPCapabilities            = 142
	pROSpec                      = 177
	pROBoundarySpec              = 178
	pROSpecStartTrigger          = 179
	pPeriodicTriggerValue        = 180
	pROSpecStopTrigger           = 182
	pAISpec                      = 183
	pAISpecStopTrigger           = 184
	pInventoryParameterSpec      = 186
	pAntennaProperties           = 221
	pKeepaliveSpec               = 220
	pReaderEventNotificationSpec = 244
	pEventNotificationState      = 245
	pROReportSpec                = 237
	pTagReportContentSelector    = 238
	pTagReportData               = 240
	pEPCData                     = 241
	pReaderEventNotificationData = 246
	pAntennaEvent                = 255
	pConnectionAttemptEvent      = 256
	pConnectionCloseEvent        = 257
	pLLRPStatus                  = 287
	pFieldError                  = 288
	pParameterError              = 289
	pCustom                      = 1023
)

// tvLen holds the value length of each known TV parameter (0 = unknown).
var tvLen = [128]uint8{
	tvAntennaID: 2, tvFirstSeenUTC: 8, tvFirstSeenUptime: 8, tvLastSeenUTC: 8, tvLastSeenUptime: 8,
	tvPeakRSSI: 1, tvChannelIndex: 2, tvTagSeenCount: 2, tvROSpecID: 4, tvInventoryParameterSpecID: 2,
	tvC1G2CRC: 2, tvC1G2PC: 2, tvEPC96: 12, tvSpecIndex: 2, tvClientRequestOpSpecRes: 2,
	tvAccessSpecID: 4, tvOpSpecID: 2, tvC1G2SingulationDetails: 4, tvC1G2XPCW1: 2, tvC1G2XPCW2: 2,
}

// Vendor (IANA private enterprise) numbers seen in DeviceManufacturerName
// and Custom parameters.
const (
	VendorImpinj   uint32 = 25882
	VendorMotorola uint32 = 161 // Zebra FX readers still report Motorola's number
	VendorZebra    uint32 = 10642
	VendorAlien    uint32 = 17360
)

// impinjPeakRSSISubtype is the Impinj custom parameter carrying peak RSSI in
// centi-dBm (ImpinjPeakRSSI).
const impinjPeakRSSISubtype = 57

// VendorName names a manufacturer number for humans.
func VendorName(v uint32) string {
	switch v {
	case VendorImpinj:
		return "Impinj"
	case VendorMotorola, VendorZebra:
		return "Zebra"
	case VendorAlien:
		return "Alien"
	}
	return fmt.Sprintf("vendor %d", v)
}

// param is one parameter as found in a message body: its type and value
// (for a TLV the bytes after the 4-byte header).
type param struct {
	typ uint16
	val []byte
}

// nextTLV splits the TLV at the start of b. It fails on a TV parameter,
// because a TLV-only context cannot know a TV's length.
func nextTLV(b []byte, where string) (param, []byte, error) {
	if len(b) < 4 {
		return param{}, nil, fmt.Errorf("%w: %d bytes left for a parameter header in %s", ErrShortMessage, len(b), where)
	}
	if b[0]&0x80 != 0 {
		t := b[0] & 0x7F
		n := int(tvLen[t])
		if n == 0 || len(b) < 1+n {
			return param{}, nil, fmt.Errorf("%w: TV type %d in %s", ErrUnknownTV, t, where)
		}
		return param{typ: uint16(t), val: b[1 : 1+n]}, b[1+n:], nil
	}
	typ := binary.BigEndian.Uint16(b) & 0x3FF
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n < 4 || n > len(b) {
		return param{}, nil, fmt.Errorf("%w: parameter type %d length %d with %d bytes left in %s", ErrBadParameter, typ, n, len(b), where)
	}
	return param{typ: typ, val: b[4:n]}, b[n:], nil
}

// appendTLVStart appends a TLV header whose length finishTLV patches.
func appendTLVStart(dst []byte, typ uint16) ([]byte, int) {
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, typ&0x3FF)
	return binary.BigEndian.AppendUint16(dst, 0), start
}

func finishTLV(dst []byte, start int) []byte {
	binary.BigEndian.PutUint16(dst[start+2:], uint16(len(dst)-start))
	return dst
}

// StatusCode is an LLRPStatus code (LLRPStatus codes of the LLRP standard).
type StatusCode uint16

// Status codes.
const (
	StatusSuccess            StatusCode = 0
	StatusParameterError     StatusCode = 100
	StatusFieldError         StatusCode = 101
	StatusUnexpectedParam    StatusCode = 102
	StatusMissingParameter   StatusCode = 103
	StatusOverflowParameter  StatusCode = 105
	StatusUnsupportedMessage StatusCode = 109
	StatusUnsupportedVersion StatusCode = 110
	StatusUnexpectedMessage  StatusCode = 112
	StatusDeviceError        StatusCode = 401
)

var statusNames = map[StatusCode]string{
	0: "M_Success", 100: "M_ParameterError", 101: "M_FieldError", 102: "M_UnexpectedParameter",
	103: "M_MissingParameter", 104: "M_DuplicateParameter", 105: "M_OverflowParameter",
	106: "M_OverflowField", 107: "M_UnknownParameter", 108: "M_UnknownField",
	109: "M_UnsupportedMessage", 110: "M_UnsupportedVersion", 111: "M_UnsupportedParameter",
	112: "M_UnexpectedMessage", 200: "P_ParameterError", 201: "P_FieldError",
	202: "P_UnexpectedParameter", 203: "P_MissingParameter", 204: "P_DuplicateParameter",
	205: "P_OverflowParameter", 206: "P_OverflowField", 207: "P_UnknownParameter",
	208: "P_UnknownField", 209: "P_UnsupportedParameter", 300: "A_Invalid", 301: "A_OutOfRange",
	401: "R_DeviceError",
}

func (c StatusCode) String() string {
	if s, ok := statusNames[c]; ok {
		return s
	}
	return fmt.Sprintf("status %d", uint16(c))
}

// Status is the LLRPStatus parameter of a response. FieldError and
// ParameterError, when the reader sent them, say which field or parameter of
// the request it rejected.
type Status struct {
	Code        StatusCode
	Description string
	// FieldError: field number and error code; set when HasFieldError.
	HasFieldError  bool
	FieldNum       uint16
	FieldErrorCode StatusCode
	HasParamError  bool
	ParamType      uint16
	ParamErrorCode StatusCode
}

// Err returns nil for M_Success and otherwise an error wrapping ErrStatus
// that carries the code, the reader's description and the offending
// field/parameter.
func (s *Status) Err() error {
	if s.Code == StatusSuccess {
		return nil
	}
	msg := fmt.Sprintf("%v: %v", ErrStatus, s.Code)
	if s.Description != "" {
		msg += fmt.Sprintf(" %q", s.Description)
	}
	if s.HasFieldError {
		msg += fmt.Sprintf(" (field %d: %v)", s.FieldNum, s.FieldErrorCode)
	}
	if s.HasParamError {
		msg += fmt.Sprintf(" (parameter type %d: %v)", s.ParamType, s.ParamErrorCode)
	}
	return &statusError{msg: msg, code: s.Code}
}

type statusError struct {
	msg  string
	code StatusCode
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return ErrStatus }

func (s *Status) append(dst []byte) []byte {
	dst, st := appendTLVStart(dst, pLLRPStatus)
	dst = binary.BigEndian.AppendUint16(dst, uint16(s.Code))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s.Description)))
	dst = append(dst, s.Description...)
	if s.HasFieldError {
		var fs int
		dst, fs = appendTLVStart(dst, pFieldError)
		dst = binary.BigEndian.AppendUint16(dst, s.FieldNum)
		dst = binary.BigEndian.AppendUint16(dst, uint16(s.FieldErrorCode))
		dst = finishTLV(dst, fs)
	}
	if s.HasParamError {
		var ps int
		dst, ps = appendTLVStart(dst, pParameterError)
		dst = binary.BigEndian.AppendUint16(dst, s.ParamType)
		dst = binary.BigEndian.AppendUint16(dst, uint16(s.ParamErrorCode))
		dst = finishTLV(dst, ps)
	}
	return finishTLV(dst, st)
}

// decode parses the value of an LLRPStatus TLV.
func (s *Status) decode(v []byte) error {
	if len(v) < 4 {
		return fmt.Errorf("%w: LLRPStatus value of %d bytes", ErrShortMessage, len(v))
	}
	s.Code = StatusCode(binary.BigEndian.Uint16(v))
	n := int(binary.BigEndian.Uint16(v[2:]))
	if 4+n > len(v) {
		return fmt.Errorf("%w: LLRPStatus ErrorDescription of %d bytes, %d left", ErrShortMessage, n, len(v)-4)
	}
	s.Description = string(v[4 : 4+n])
	rest := v[4+n:]
	for len(rest) > 0 {
		p, r, err := nextTLV(rest, "LLRPStatus")
		if err != nil {
			return err
		}
		rest = r
		if len(p.val) < 4 {
			continue
		}
		switch p.typ {
		case pFieldError:
			s.HasFieldError = true
			s.FieldNum = binary.BigEndian.Uint16(p.val)
			s.FieldErrorCode = StatusCode(binary.BigEndian.Uint16(p.val[2:]))
		case pParameterError:
			s.HasParamError = true
			s.ParamType = binary.BigEndian.Uint16(p.val)
			s.ParamErrorCode = StatusCode(binary.BigEndian.Uint16(p.val[2:]))
		}
	}
	return nil
}

// findStatus decodes the first LLRPStatus among the parameters in b,
// skipping anything else. A response without one is an error.
func findStatus(b []byte, where string) (Status, []byte, error) {
	var s Status
	for rest := b; len(rest) > 0; {
		p, r, err := nextTLV(rest, where)
		if err != nil {
			return s, nil, err
		}
		if p.typ == pLLRPStatus {
			err := s.decode(p.val)
			return s, r, err
		}
		rest = r
	}
	return s, nil, fmt.Errorf("%w: no LLRPStatus in %s", ErrBadParameter, where)
}
