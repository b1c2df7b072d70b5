package remoteconfig

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rfidgw/rfidgw/internal/config"
)

// FleetKey is the message key of fleet-wide defaults: every gateway applies
// them under its own sections. It can never be a gateway id.
const FleetKey = "*"

// DefaultTopic is the default of remote_config.topic.
const DefaultTopic = config.DefaultRemoteConfigTopic

// Bounds of what a gateway reads from the topic.
const (
	MaxMessageBytes = 1 << 20   // a whole Kafka value
	MaxConfigBytes  = 512 << 10 // the YAML text of the sections
	schemaVersion   = 1
)

// signContext separates these signatures from any other use of the key.
const signContext = "rfidgw-config-v1"

// RemoteSections are the top-level keys of the gateway's YAML that a push
// may carry. Everything else stays with the local file.
var RemoteSections = []string{"zones", "filter", "edge", "readers"}

// Envelope is the Kafka value: the payload exactly as signed, the id of the
// signing key and the signature. The payload is a JSON text inside a JSON
// string, so it reaches the gateway byte for byte whatever tool relays it.
type Envelope struct {
	Schema    int    `json:"schema"`
	KeyID     string `json:"key_id"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"` // base64 (standard) of 64 bytes
}

// Payload is what is signed.
type Payload struct {
	Schema  int       `json:"schema"`
	Target  string    `json:"target"`  // a gateway id, or FleetKey
	Version uint64    `json:"version"` // only goes up
	Created time.Time `json:"created"`
	By      string    `json:"by,omitempty"` // who pushed (user@host), informational
	Config  string    `json:"config"`       // YAML holding only RemoteSections
}

// Message is a verified config message.
type Message struct {
	Payload
	KeyID    string
	Sections Sections
	Value    []byte // the Kafka value as received
}

// signedBytes is what the signature covers: the context, the key id and the
// payload bytes.
func signedBytes(keyID, payload string) []byte {
	var b bytes.Buffer
	b.WriteString(signContext)
	b.WriteByte('\n')
	b.WriteString(keyID)
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.Bytes()
}

var targetRe = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)

// ValidTarget reports whether t is a gateway id or FleetKey.
func ValidTarget(t string) bool { return t == FleetKey || targetRe.MatchString(t) }

// Sign builds the Kafka value of p signed with priv.
func Sign(priv ed25519.PrivateKey, p Payload) ([]byte, error) {
	if !ValidTarget(p.Target) {
		return nil, fmt.Errorf("target %q is not a gateway id ([a-z0-9._-]{1,64}) or %q", p.Target, FleetKey)
	}
	if p.Version == 0 {
		return nil, errors.New("version must be at least 1")
	}
	if len(p.Config) > MaxConfigBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrSections, len(p.Config), MaxConfigBytes)
	}
	p.Schema = schemaVersion
	if p.Created.IsZero() {
		p.Created = time.Now()
	}
	p.Created = p.Created.UTC().Truncate(time.Millisecond)
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	keyID := KeyID(priv.Public().(ed25519.PublicKey))
	sig := ed25519.Sign(priv, signedBytes(keyID, string(payload)))
	return json.Marshal(Envelope{
		Schema:    schemaVersion,
		KeyID:     keyID,
		Payload:   string(payload),
		Signature: base64.StdEncoding.EncodeToString(sig),
	})
}

// PeekVersion returns the version a value claims without verifying it (for
// the push tool's "next version" and for reports of refused messages; never
// for a decision).
func PeekVersion(value []byte) (uint64, bool) {
	var env Envelope
	if len(value) > MaxMessageBytes || json.Unmarshal(value, &env) != nil {
		return 0, false
	}
	var p Payload
	if json.Unmarshal([]byte(env.Payload), &p) != nil {
		return 0, false
	}
	return p.Version, true
}

// Verify checks a Kafka value published under key against the accepted
// keys and returns the message. Errors wrap ErrUnsigned, ErrUnknownKey,
// ErrBadSignature, ErrOtherGateway or ErrInvalid. Nothing of the payload is
// parsed before the signature verified.
func Verify(key string, value []byte, keys KeySet) (*Message, error) {
	if len(value) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: message of %d bytes, at most %d", ErrInvalid, len(value), MaxMessageBytes)
	}
	var env Envelope
	if err := json.Unmarshal(value, &env); err != nil {
		return nil, fmt.Errorf("%w: not a signed rfidgw config message (%v)", ErrUnsigned, err)
	}
	if env.Signature == "" || env.KeyID == "" {
		return nil, fmt.Errorf("%w: no signature or key_id", ErrUnsigned)
	}
	pub, ok := keys[env.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w: key %.32q is not in remote_config.public_keys (accepted: %s)", ErrUnknownKey, env.KeyID, strings.Join(keys.IDs(), ", "))
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is not %d bytes of base64", ErrBadSignature, ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, signedBytes(env.KeyID, env.Payload), sig) {
		return nil, fmt.Errorf("%w with key %s", ErrBadSignature, env.KeyID)
	}
	// Signed by a key we trust: parse it.
	var p Payload
	dec := json.NewDecoder(strings.NewReader(env.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	if p.Schema != schemaVersion || env.Schema != schemaVersion {
		return nil, fmt.Errorf("%w: schema %d, this gateway reads schema %d (upgrade it)", ErrInvalid, p.Schema, schemaVersion)
	}
	if p.Target != key {
		return nil, fmt.Errorf("%w: signed for %q, published under key %q", ErrOtherGateway, p.Target, key)
	}
	if p.Version == 0 {
		return nil, fmt.Errorf("%w: version 0", ErrInvalid)
	}
	secs, err := ParseSections([]byte(p.Config))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &Message{Payload: p, KeyID: env.KeyID, Sections: secs, Value: append([]byte(nil), value...)}, nil
}

// Sections are the remotely changeable top-level sections of a gateway
// config, as decoded YAML (a section absent from the map is not carried).
type Sections map[string]any

// ParseSections decodes a YAML document holding only RemoteSections. An
// empty document carries no section (the local file applies again).
func ParseSections(data []byte) (Sections, error) {
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrSections, len(data), MaxConfigBytes)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: not valid YAML: %v", ErrSections, err)
	}
	s := Sections{}
	var bad []string
	for k, v := range doc {
		if !isRemoteSection(k) {
			bad = append(bad, k)
			continue
		}
		s[k] = v
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, fmt.Errorf("%w: %s: only %s can be changed remotely; the rest stays in each gateway's local file",
			ErrSections, strings.Join(bad, ", "), strings.Join(RemoteSections, ", "))
	}
	return s, nil
}

func isRemoteSection(k string) bool {
	for _, r := range RemoteSections {
		if k == r {
			return true
		}
	}
	return false
}

// Names lists the sections carried, in RemoteSections order.
func (s Sections) Names() []string {
	var out []string
	for _, r := range RemoteSections {
		if _, ok := s[r]; ok {
			out = append(out, r)
		}
	}
	return out
}

// Hash is a short fingerprint of the sections' content (the first 6 bytes of
// the SHA-256 of their canonical JSON, hex): the same sections give the same
// hash on every gateway and in `rfidgw config push`, whatever their YAML
// layout. Empty sections hash to "-".
func (s Sections) Hash() string {
	if len(s) == 0 {
		return "-"
	}
	b, err := json.Marshal(jsonable(map[string]any(s)))
	if err != nil {
		// Only YAML maps with non-string keys get here; hash their text.
		b = []byte(fmt.Sprintf("%#v", s))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// jsonable turns YAML's map[any]any (non-string keys) into string keys.
func jsonable(v any) any {
	switch m := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = jsonable(x)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[fmt.Sprint(k)] = jsonable(x)
		}
		return out
	case []any:
		out := make([]any, len(m))
		for i, x := range m {
			out[i] = jsonable(x)
		}
		return out
	case time.Time:
		return m.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func sortStrings(s []string) { sort.Strings(s) }
