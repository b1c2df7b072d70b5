package llrp

import (
	"encoding/binary"
	"fmt"
)

// Message is an LLRP message body that can be encoded and decoded. The
// header (version, message id) is handled by AppendMessage and Framer.
type Message interface {
	Type() MessageType
	// AppendBody appends the encoded body (without header) to dst.
	AppendBody(dst []byte) []byte
	// DecodeBody parses a body as received; unknown TLV parameters are
	// skipped by their length.
	DecodeBody(b []byte) error
}

// AppendMessage appends m with a header of the given version and id.
func AppendMessage(dst []byte, version uint8, id uint32, m Message) []byte {
	start := len(dst)
	dst = appendHeader(dst, version, m.Type(), id)
	dst = m.AppendBody(dst)
	return finishMessage(dst, start)
}

// DecodeMessage decodes a body of any message type this package knows
// into a new Message of the matching Go type.
func DecodeMessage(h Header, body []byte) (Message, error) {
	var m Message
	switch h.Type {
	case MsgGetReaderCapabilities:
		m = &GetReaderCapabilities{}
	case MsgGetReaderCapabilitiesResponse:
		m = &GetReaderCapabilitiesResponse{}
	case MsgSetReaderConfig:
		m = &SetReaderConfig{}
	case MsgAddROSpec:
		m = &AddROSpec{}
	case MsgDeleteROSpec, MsgStartROSpec, MsgStopROSpec, MsgEnableROSpec, MsgDisableROSpec:
		m = &ROSpecCommand{Kind: h.Type}
	case MsgSetReaderConfigResponse, MsgCloseConnectionResponse, MsgAddROSpecResponse,
		MsgDeleteROSpecResponse, MsgStartROSpecResponse, MsgStopROSpecResponse,
		MsgEnableROSpecResponse, MsgDisableROSpecResponse, MsgErrorMessage:
		m = &StatusResponse{Kind: h.Type}
	case MsgGetROSpecsResponse:
		m = &GetROSpecsResponse{}
	case MsgGetReaderConfig:
		m = &GetReaderConfig{}
	case MsgGetReaderConfigResponse:
		m = &GetReaderConfigResponse{}
	case MsgKeepalive, MsgKeepaliveAck, MsgCloseConnection, MsgEnableEventsAndReports, MsgGetROSpecs:
		m = &Empty{Kind: h.Type}
	case MsgReaderEventNotification:
		m = &ReaderEventNotification{}
	case MsgROAccessReport:
		m = &ROAccessReport{}
	default:
		return nil, fmt.Errorf("%w: %v id %d", ErrUnexpectedMessage, h.Type, h.ID)
	}
	if err := m.DecodeBody(body); err != nil {
		return nil, fmt.Errorf("decoding %v id %d: %w", h.Type, h.ID, err)
	}
	return m, nil
}

// Empty is a message without a body: KEEPALIVE, KEEPALIVE_ACK,
// CLOSE_CONNECTION, ENABLE_EVENTS_AND_REPORTS.
type Empty struct{ Kind MessageType }

func (m *Empty) Type() MessageType            { return m.Kind }
func (m *Empty) AppendBody(dst []byte) []byte { return dst }
func (m *Empty) DecodeBody(b []byte) error    { return nil } // trailing bytes are tolerated as unknown parameters

// StatusResponse is a response that carries only an LLRPStatus:
// SET_READER_CONFIG_RESPONSE, the *_ROSPEC_RESPONSEs,
// CLOSE_CONNECTION_RESPONSE and ERROR_MESSAGE.
type StatusResponse struct {
	Kind   MessageType
	Status Status
}

func (m *StatusResponse) Type() MessageType            { return m.Kind }
func (m *StatusResponse) AppendBody(dst []byte) []byte { return m.Status.append(dst) }
func (m *StatusResponse) DecodeBody(b []byte) error {
	s, _, err := findStatus(b, m.Kind.String())
	m.Status = s
	return err
}

// ROSpecCommand is DELETE/START/STOP/ENABLE/DISABLE_ROSPEC: a ROSpecID
// (0 = all, for DELETE/ENABLE/DISABLE).
type ROSpecCommand struct {
	Kind     MessageType
	ROSpecID uint32
}

func (m *ROSpecCommand) Type() MessageType { return m.Kind }
func (m *ROSpecCommand) AppendBody(dst []byte) []byte {
	return binary.BigEndian.AppendUint32(dst, m.ROSpecID)
}
func (m *ROSpecCommand) DecodeBody(b []byte) error {
	if len(b) < 4 {
		return fmt.Errorf("%w: %v body of %d bytes, want 4", ErrShortMessage, m.Kind, len(b))
	}
	m.ROSpecID = binary.BigEndian.Uint32(b)
	return nil
}

// GetReaderCapabilities asks for the reader's capabilities;
// RequestedData 0 = all.
type GetReaderCapabilities struct{ RequestedData uint8 }

func (m *GetReaderCapabilities) Type() MessageType { return MsgGetReaderCapabilities }
func (m *GetReaderCapabilities) AppendBody(dst []byte) []byte {
	return append(dst, m.RequestedData)
}
func (m *GetReaderCapabilities) DecodeBody(b []byte) error {
	if len(b) < 1 {
		return fmt.Errorf("%w: GET_READER_CAPABILITIES without RequestedData", ErrShortMessage)
	}
	m.RequestedData = b[0]
	return nil
}

// GeneralCapabilities is the part of GeneralDeviceCapabilities (137) the
// client uses.
type GeneralCapabilities struct {
	MaxAntennas             uint16
	CanSetAntennaProperties bool
	HasUTCClock             bool
	Manufacturer            uint32 // IANA enterprise number, see VendorName
	Model                   uint32
	Firmware                string
	NumGPIs, NumGPOs        uint16
}

// LLRPCapabilities (142): what the reader's LLRP implementation can do.
type LLRPCapabilities struct {
	CanDoRFSurvey                 bool
	CanReportBufferFillWarning    bool
	SupportsClientRequestOpSpec   bool
	CanDoStateAwareSingulation    bool
	SupportsEventAndReportHolding bool
	MaxPriorityLevels             uint8
	ClientRequestOpSpecTimeout    uint16
	MaxROSpecs                    uint32
	MaxSpecsPerROSpec             uint32
	MaxInventoryParamSpecsPerAI   uint32
	MaxAccessSpecs                uint32
	MaxOpSpecsPerAccessSpec       uint32
}

// GetReaderCapabilitiesResponse carries the status and the capabilities the
// client uses; regulatory, air-protocol and custom capabilities are skipped.
type GetReaderCapabilitiesResponse struct {
	Status     Status
	HasGeneral bool
	General    GeneralCapabilities
	HasLLRP    bool
	LLRP       LLRPCapabilities
}

func (m *GetReaderCapabilitiesResponse) Type() MessageType { return MsgGetReaderCapabilitiesResponse }

func (m *GetReaderCapabilitiesResponse) AppendBody(dst []byte) []byte {
	dst = m.Status.append(dst)
	if m.HasGeneral {
		g := &m.General
		var st int
		dst, st = appendTLVStart(dst, pGeneralDeviceCapabilities)
		dst = binary.BigEndian.AppendUint16(dst, g.MaxAntennas)
		var flags uint16
		if g.CanSetAntennaProperties {
			flags |= 1 << 15
		}
		if g.HasUTCClock {
			flags |= 1 << 14
		}
		dst = binary.BigEndian.AppendUint16(dst, flags)
		dst = binary.BigEndian.AppendUint32(dst, g.Manufacturer)
		dst = binary.BigEndian.AppendUint32(dst, g.Model)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(g.Firmware)))
		dst = append(dst, g.Firmware...)
		// Required sub-parameters, as a real reader sends them: one
		// receive-sensitivity entry, GPIO counts, C1G2 on every antenna.
		var s int
		dst, s = appendTLVStart(dst, pReceiveSensitivityEntry)
		dst = append(dst, 0, 1, 0, 0)
		dst = finishTLV(dst, s)
		dst, s = appendTLVStart(dst, pGPIOCapabilities)
		dst = binary.BigEndian.AppendUint16(dst, g.NumGPIs)
		dst = binary.BigEndian.AppendUint16(dst, g.NumGPOs)
		dst = finishTLV(dst, s)
		// At most 64 entries keep the parameter within its 16-bit length.
		for a := uint16(1); a <= min(g.MaxAntennas, 64); a++ {
			dst, s = appendTLVStart(dst, pPerAntennaAirProtocol)
			dst = binary.BigEndian.AppendUint16(dst, a)
			dst = append(dst, 0, 1, 1) // one protocol: EPCglobal C1G2
			dst = finishTLV(dst, s)
		}
		dst = finishTLV(dst, st)
	}
	if m.HasLLRP {
		l := &m.LLRP
		var st int
		dst, st = appendTLVStart(dst, pLLRPCapabilities)
		var flags byte
		for i, b := range []bool{l.CanDoRFSurvey, l.CanReportBufferFillWarning, l.SupportsClientRequestOpSpec,
			l.CanDoStateAwareSingulation, l.SupportsEventAndReportHolding} {
			if b {
				flags |= 0x80 >> i
			}
		}
		dst = append(dst, flags, l.MaxPriorityLevels)
		dst = binary.BigEndian.AppendUint16(dst, l.ClientRequestOpSpecTimeout)
		for _, v := range []uint32{l.MaxROSpecs, l.MaxSpecsPerROSpec, l.MaxInventoryParamSpecsPerAI,
			l.MaxAccessSpecs, l.MaxOpSpecsPerAccessSpec} {
			dst = binary.BigEndian.AppendUint32(dst, v)
		}
		dst = finishTLV(dst, st)
	}
	return dst
}

func (m *GetReaderCapabilitiesResponse) DecodeBody(b []byte) error {
	for rest := b; len(rest) > 0; {
		p, r, err := nextTLV(rest, "GET_READER_CAPABILITIES_RESPONSE")
		if err != nil {
			return err
		}
		rest = r
		v := p.val
		switch p.typ {
		case pLLRPStatus:
			if err := m.Status.decode(v); err != nil {
				return err
			}
		case pGeneralDeviceCapabilities:
			if len(v) < 14 {
				return fmt.Errorf("%w: GeneralDeviceCapabilities of %d bytes", ErrShortMessage, len(v))
			}
			g := &m.General
			g.MaxAntennas = binary.BigEndian.Uint16(v)
			flags := binary.BigEndian.Uint16(v[2:])
			g.CanSetAntennaProperties = flags&(1<<15) != 0
			g.HasUTCClock = flags&(1<<14) != 0
			g.Manufacturer = binary.BigEndian.Uint32(v[4:])
			g.Model = binary.BigEndian.Uint32(v[8:])
			n := int(binary.BigEndian.Uint16(v[12:]))
			if 14+n > len(v) {
				return fmt.Errorf("%w: firmware version of %d bytes, %d left", ErrShortMessage, n, len(v)-14)
			}
			g.Firmware = string(v[14 : 14+n])
			for sub := v[14+n:]; len(sub) > 0; {
				sp, sr, err := nextTLV(sub, "GeneralDeviceCapabilities")
				if err != nil {
					return err
				}
				sub = sr
				if sp.typ == pGPIOCapabilities && len(sp.val) >= 4 {
					g.NumGPIs = binary.BigEndian.Uint16(sp.val)
					g.NumGPOs = binary.BigEndian.Uint16(sp.val[2:])
				}
			}
			m.HasGeneral = true
		case pLLRPCapabilities:
			if len(v) < 24 {
				return fmt.Errorf("%w: LLRPCapabilities of %d bytes, want 24", ErrShortMessage, len(v))
			}
			l := &m.LLRP
			f := v[0]
			l.CanDoRFSurvey = f&0x80 != 0
			l.CanReportBufferFillWarning = f&0x40 != 0
			l.SupportsClientRequestOpSpec = f&0x20 != 0
			l.CanDoStateAwareSingulation = f&0x10 != 0
			l.SupportsEventAndReportHolding = f&0x08 != 0
			l.MaxPriorityLevels = v[1]
			l.ClientRequestOpSpecTimeout = binary.BigEndian.Uint16(v[2:])
			l.MaxROSpecs = binary.BigEndian.Uint32(v[4:])
			l.MaxSpecsPerROSpec = binary.BigEndian.Uint32(v[8:])
			l.MaxInventoryParamSpecsPerAI = binary.BigEndian.Uint32(v[12:])
			l.MaxAccessSpecs = binary.BigEndian.Uint32(v[16:])
			l.MaxOpSpecsPerAccessSpec = binary.BigEndian.Uint32(v[20:])
			m.HasLLRP = true
		}
	}
	return nil
}

// KeepaliveSpec (220): Trigger 0 = none, 1 = periodic every IntervalMS.
type KeepaliveSpec struct {
	Trigger    uint8
	IntervalMS uint32
}

// SetReaderConfig carries the settings the client changes: an optional
// factory reset (applied by the reader before the other settings) and the
// keepalive period. Other parameters are skipped when decoding.
type SetReaderConfig struct {
	ResetToFactoryDefault bool
	// Events turns reader event notifications on or off
	// (ReaderEventNotificationSpec); nil leaves them as they are.
	Events    []EventNotificationState
	Keepalive *KeepaliveSpec
}

// EventNotificationState (245) turns one kind of reader event on or off.
type EventNotificationState struct {
	Event uint16 // Event* constants
	On    bool
}

// Reader event types of EventNotificationState.
const (
	EventROSpec  uint16 = 2
	EventAntenna uint16 = 8 // AntennaEvent: an antenna connected or disconnected
)

func (m *SetReaderConfig) Type() MessageType { return MsgSetReaderConfig }
func (m *SetReaderConfig) AppendBody(dst []byte) []byte {
	var b byte
	if m.ResetToFactoryDefault {
		b = 0x80
	}
	dst = append(dst, b)
	if len(m.Events) > 0 {
		var st, es int
		dst, st = appendTLVStart(dst, pReaderEventNotificationSpec)
		for _, e := range m.Events {
			dst, es = appendTLVStart(dst, pEventNotificationState)
			dst = binary.BigEndian.AppendUint16(dst, e.Event)
			var on byte
			if e.On {
				on = 0x80
			}
			dst = append(dst, on)
			dst = finishTLV(dst, es)
		}
		dst = finishTLV(dst, st)
	}
	if m.Keepalive != nil {
		var st int
		dst, st = appendTLVStart(dst, pKeepaliveSpec)
		dst = append(dst, m.Keepalive.Trigger)
		dst = binary.BigEndian.AppendUint32(dst, m.Keepalive.IntervalMS)
		dst = finishTLV(dst, st)
	}
	return dst
}
func (m *SetReaderConfig) DecodeBody(b []byte) error {
	if len(b) < 1 {
		return fmt.Errorf("%w: SET_READER_CONFIG without its first byte", ErrShortMessage)
	}
	m.ResetToFactoryDefault = b[0]&0x80 != 0
	m.Keepalive = nil
	m.Events = nil
	for rest := b[1:]; len(rest) > 0; {
		p, r, err := nextTLV(rest, "SET_READER_CONFIG")
		if err != nil {
			return err
		}
		rest = r
		if p.typ == pReaderEventNotificationSpec {
			for er := p.val; len(er) > 0; {
				q, r2, err := nextTLV(er, "ReaderEventNotificationSpec")
				if err != nil {
					return err
				}
				er = r2
				if q.typ != pEventNotificationState {
					continue
				}
				if len(q.val) < 3 {
					return fmt.Errorf("%w: EventNotificationState of %d bytes, want 3", ErrShortMessage, len(q.val))
				}
				if len(m.Events) >= 64 {
					return fmt.Errorf("%w: more than 64 EventNotificationStates", ErrBadParameter)
				}
				m.Events = append(m.Events, EventNotificationState{Event: binary.BigEndian.Uint16(q.val), On: q.val[2]&0x80 != 0})
			}
		}
		if p.typ == pKeepaliveSpec {
			if len(p.val) < 5 {
				return fmt.Errorf("%w: KeepaliveSpec of %d bytes, want 5", ErrShortMessage, len(p.val))
			}
			m.Keepalive = &KeepaliveSpec{Trigger: p.val[0], IntervalMS: binary.BigEndian.Uint32(p.val[1:])}
		}
	}
	return nil
}

// AddROSpec carries one ROSpec.
type AddROSpec struct{ ROSpec ROSpec }

func (m *AddROSpec) Type() MessageType            { return MsgAddROSpec }
func (m *AddROSpec) AppendBody(dst []byte) []byte { return m.ROSpec.append(dst) }
func (m *AddROSpec) DecodeBody(b []byte) error {
	p, _, err := nextTLV(b, "ADD_ROSPEC")
	if err != nil {
		return err
	}
	if p.typ != pROSpec {
		return fmt.Errorf("%w: ADD_ROSPEC holds parameter type %d, want ROSpec (177)", ErrBadParameter, p.typ)
	}
	return m.ROSpec.decode(p.val)
}

// GetReaderConfig asks for part of the reader's configuration; the
// gateway asks for RequestedData 2 (AntennaProperties) of AntennaID 0 (all).
type GetReaderConfig struct {
	AntennaID     uint16
	RequestedData uint8 // 0 all, 2 AntennaProperties, ...
}

// RequestedData values of GET_READER_CONFIG.
const ConfigAntennaProperties uint8 = 2

func (m *GetReaderConfig) Type() MessageType { return MsgGetReaderConfig }
func (m *GetReaderConfig) AppendBody(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, m.AntennaID)
	dst = append(dst, m.RequestedData)
	return append(dst, 0, 0, 0, 0) // GPI and GPO port numbers
}
func (m *GetReaderConfig) DecodeBody(b []byte) error {
	if len(b) < 7 {
		return fmt.Errorf("%w: GET_READER_CONFIG of %d bytes, want 7", ErrShortMessage, len(b))
	}
	m.AntennaID, m.RequestedData = binary.BigEndian.Uint16(b), b[2]
	return nil
}

// AntennaProperty (221): whether an antenna is connected, and its gain.
type AntennaProperty struct {
	Connected bool
	AntennaID uint16
	GainCdBi  int16 // centi-dBi
}

// maxAntennaProperties bounds the AntennaProperties decoded from one
// response (an LLRP antenna id is a u16; real readers have up to 32).
const maxAntennaProperties = 256

// GetReaderConfigResponse keeps the status and the AntennaProperties;
// other parameters are skipped.
type GetReaderConfigResponse struct {
	Status   Status
	Antennas []AntennaProperty
}

func (m *GetReaderConfigResponse) Type() MessageType { return MsgGetReaderConfigResponse }
func (m *GetReaderConfigResponse) AppendBody(dst []byte) []byte {
	dst = m.Status.append(dst)
	for _, a := range m.Antennas {
		var st int
		dst, st = appendTLVStart(dst, pAntennaProperties)
		var c byte
		if a.Connected {
			c = 0x80
		}
		dst = append(dst, c)
		dst = binary.BigEndian.AppendUint16(dst, a.AntennaID)
		dst = binary.BigEndian.AppendUint16(dst, uint16(a.GainCdBi))
		dst = finishTLV(dst, st)
	}
	return dst
}
func (m *GetReaderConfigResponse) DecodeBody(b []byte) error {
	*m = GetReaderConfigResponse{}
	for rest := b; len(rest) > 0; {
		p, r, err := nextTLV(rest, "GET_READER_CONFIG_RESPONSE")
		if err != nil {
			return err
		}
		rest = r
		switch p.typ {
		case pLLRPStatus:
			if err := m.Status.decode(p.val); err != nil {
				return err
			}
		case pAntennaProperties:
			if len(p.val) < 5 {
				return fmt.Errorf("%w: AntennaProperties of %d bytes, want 5", ErrShortMessage, len(p.val))
			}
			if len(m.Antennas) >= maxAntennaProperties {
				return fmt.Errorf("%w: more than %d AntennaProperties", ErrBadParameter, maxAntennaProperties)
			}
			m.Antennas = append(m.Antennas, AntennaProperty{Connected: p.val[0]&0x80 != 0,
				AntennaID: binary.BigEndian.Uint16(p.val[1:]), GainCdBi: int16(binary.BigEndian.Uint16(p.val[3:]))})
		}
	}
	return nil
}

// maxROSpecsListed bounds the ROSpecs decoded from one GET_ROSPECS_RESPONSE
// (readers hold a handful; the gateway adds one).
const maxROSpecsListed = 64

// GetROSpecsResponse lists the ROSpecs the reader holds, with their current
// state. GET_ROSPECS itself has no body (Empty{Kind: MsgGetROSpecs}).
type GetROSpecsResponse struct {
	Status  Status
	ROSpecs []ROSpec
}

func (m *GetROSpecsResponse) Type() MessageType { return MsgGetROSpecsResponse }
func (m *GetROSpecsResponse) AppendBody(dst []byte) []byte {
	dst = m.Status.append(dst)
	for i := range m.ROSpecs {
		dst = m.ROSpecs[i].append(dst)
	}
	return dst
}

func (m *GetROSpecsResponse) DecodeBody(b []byte) error {
	*m = GetROSpecsResponse{}
	for rest := b; len(rest) > 0; {
		p, r, err := nextTLV(rest, "GET_ROSPECS_RESPONSE")
		if err != nil {
			return err
		}
		rest = r
		switch p.typ {
		case pLLRPStatus:
			if err := m.Status.decode(p.val); err != nil {
				return err
			}
		case pROSpec:
			if len(m.ROSpecs) >= maxROSpecsListed {
				return fmt.Errorf("%w: GET_ROSPECS_RESPONSE lists more than %d ROSpecs", ErrBadParameter, maxROSpecsListed)
			}
			var ro ROSpec
			if err := ro.decode(p.val); err != nil {
				return err
			}
			m.ROSpecs = append(m.ROSpecs, ro)
		}
	}
	return nil
}

// Connection attempt statuses of ConnectionAttemptEvent.
const (
	ConnSuccess                  uint16 = 0
	ConnFailedReaderInitiated    uint16 = 1
	ConnFailedClientInitiated    uint16 = 2
	ConnFailedOther              uint16 = 3
	ConnAnotherConnectionAttempt uint16 = 4
)

// ConnectionStatusText describes a ConnectionAttemptEvent status.
func ConnectionStatusText(s uint16) string {
	switch s {
	case ConnSuccess:
		return "success"
	case ConnFailedReaderInitiated:
		return "a reader-initiated connection already exists"
	case ConnFailedClientInitiated:
		return "another client is already connected"
	case ConnFailedOther:
		return "failed for another reason"
	case ConnAnotherConnectionAttempt:
		return "another connection was attempted"
	}
	return fmt.Sprintf("unknown status %d", s)
}

// AntennaEvent (255): an antenna was connected or disconnected.
type AntennaEvent struct {
	Connected bool
	AntennaID uint16
}

// ReaderEventNotification carries ReaderEventNotificationData (246): a
// timestamp and the events the client handles. Other events are skipped.
type ReaderEventNotification struct {
	Timestamp       uint64 // µs; since the epoch, or since boot if TimestampUptime
	TimestampUptime bool
	// HasConnectionAttempt is set when a ConnectionAttemptEvent is present
	// with ConnectionStatus (see Conn* constants).
	HasConnectionAttempt bool
	ConnectionStatus     uint16
	ConnectionClose      bool
	Antennas             []AntennaEvent
}

func (m *ReaderEventNotification) Type() MessageType { return MsgReaderEventNotification }
func (m *ReaderEventNotification) AppendBody(dst []byte) []byte {
	dst, st := appendTLVStart(dst, pReaderEventNotificationData)
	ts := uint16(pUTCTimestamp)
	if m.TimestampUptime {
		ts = pUptime
	}
	var s int
	dst, s = appendTLVStart(dst, ts)
	dst = binary.BigEndian.AppendUint64(dst, m.Timestamp)
	dst = finishTLV(dst, s)
	for _, a := range m.Antennas {
		dst, s = appendTLVStart(dst, pAntennaEvent)
		var c byte
		if a.Connected {
			c = 1
		}
		dst = append(dst, c)
		dst = binary.BigEndian.AppendUint16(dst, a.AntennaID)
		dst = finishTLV(dst, s)
	}
	if m.HasConnectionAttempt {
		dst, s = appendTLVStart(dst, pConnectionAttemptEvent)
		dst = binary.BigEndian.AppendUint16(dst, m.ConnectionStatus)
		dst = finishTLV(dst, s)
	}
	if m.ConnectionClose {
		dst, s = appendTLVStart(dst, pConnectionCloseEvent)
		dst = finishTLV(dst, s)
	}
	return finishTLV(dst, st)
}
func (m *ReaderEventNotification) DecodeBody(b []byte) error {
	*m = ReaderEventNotification{}
	p, _, err := nextTLV(b, "READER_EVENT_NOTIFICATION")
	if err != nil {
		return err
	}
	if p.typ != pReaderEventNotificationData {
		return fmt.Errorf("%w: READER_EVENT_NOTIFICATION holds parameter type %d, want 246", ErrBadParameter, p.typ)
	}
	for rest := p.val; len(rest) > 0; {
		q, r, err := nextTLV(rest, "ReaderEventNotificationData")
		if err != nil {
			return err
		}
		rest = r
		v := q.val
		switch q.typ {
		case pUTCTimestamp, pUptime:
			if len(v) < 8 {
				return fmt.Errorf("%w: timestamp of %d bytes", ErrShortMessage, len(v))
			}
			m.Timestamp = binary.BigEndian.Uint64(v)
			m.TimestampUptime = q.typ == pUptime
		case pConnectionAttemptEvent:
			if len(v) < 2 {
				return fmt.Errorf("%w: ConnectionAttemptEvent of %d bytes", ErrShortMessage, len(v))
			}
			m.HasConnectionAttempt = true
			m.ConnectionStatus = binary.BigEndian.Uint16(v)
		case pConnectionCloseEvent:
			m.ConnectionClose = true
		case pAntennaEvent:
			if len(v) < 3 {
				return fmt.Errorf("%w: AntennaEvent of %d bytes", ErrShortMessage, len(v))
			}
			m.Antennas = append(m.Antennas, AntennaEvent{Connected: v[0] == 1, AntennaID: binary.BigEndian.Uint16(v[1:])})
		}
	}
	return nil
}
