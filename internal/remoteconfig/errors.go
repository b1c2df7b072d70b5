package remoteconfig

import "errors"

// Why a message is refused or a config rolled back. Each maps to a short
// reason code (Reason) that the status topic, metrics and `rfidgw config
// status` show; the wrapping error says the details.
var (
	// ErrUnsigned: the message carries no signature (or is not a signed
	// rfidgw config message at all).
	ErrUnsigned = errors.New("unsigned")
	// ErrUnknownKey: signed by a key not listed in remote_config.public_keys.
	ErrUnknownKey = errors.New("signed by a key this gateway does not accept")
	// ErrBadSignature: the signature does not verify with the named key.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrOlderVersion: the version is not newer than the one already
	// handled for that key (versions only go up).
	ErrOlderVersion = errors.New("version is not newer than the one this gateway has")
	// ErrOtherGateway: the signed payload names another gateway than the
	// message key (a message copied to another gateway's key).
	ErrOtherGateway = errors.New("addressed to another gateway")
	// ErrInvalid: the sections do not form a valid config with the local
	// file (the same validation as `rfidgw check --config-only`).
	ErrInvalid = errors.New("invalid config")
	// ErrNotReady: after applying, the gateway was not ready when the health
	// gate closed.
	ErrNotReady = errors.New("gateway not ready after applying")
	// ErrReaderLost: after applying, a reader that was online before did not
	// come back online before the health gate closed.
	ErrReaderLost = errors.New("reader did not come back online after applying")
	// ErrInterrupted: the gateway stopped during the health gate; the next
	// start runs the last good config.
	ErrInterrupted = errors.New("gateway stopped during the health gate")
	// ErrKey: a key file cannot be read or is not an ed25519 key.
	ErrKey = errors.New("bad key file")
	// ErrSections: a config file for a push holds something other than the
	// remotely changeable sections, or is not YAML.
	ErrSections = errors.New("bad config sections")
)

// Reason codes, one word each (they are a column of `rfidgw config status`).
const (
	ReasonUnsigned     = "unsigned"
	ReasonUnknownKey   = "unknown_key"
	ReasonBadSignature = "bad_signature"
	ReasonOlderVersion = "older_version"
	ReasonOtherGateway = "other_gateway"
	ReasonInvalid      = "invalid"
	ReasonNotReady     = "not_ready"
	ReasonReaderLost   = "reader_offline"
	ReasonInterrupted  = "interrupted"
)

// Results of a push.
const (
	ResultApplied    = "applied"     // passed the health gate, runs
	ResultRejected   = "rejected"    // refused before applying
	ResultRolledBack = "rolled_back" // applied, failed the health gate, undone
	ResultChecking   = "checking"    // applied, health gate still open
)

var reasons = []struct {
	err  error
	code string
}{
	{ErrUnsigned, ReasonUnsigned},
	{ErrUnknownKey, ReasonUnknownKey},
	{ErrBadSignature, ReasonBadSignature},
	{ErrOlderVersion, ReasonOlderVersion},
	{ErrOtherGateway, ReasonOtherGateway},
	{ErrInvalid, ReasonInvalid},
	{ErrNotReady, ReasonNotReady},
	{ErrReaderLost, ReasonReaderLost},
	{ErrInterrupted, ReasonInterrupted},
}

// Reason returns the reason code of err ("" for nil, "error" when err wraps
// none of the sentinels).
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return "error"
}
