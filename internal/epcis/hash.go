package epcis

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rfidgw/rfidgw/internal/gs1"
)

// The EPCIS Event Hash ID of CBV 2.0 (section 8.9): a canonical "pre-hash
// string" of the event, SHA-256, written as ni:///sha-256;HEX?ver=CBV2.0.
//
// The pre-hash string follows the algorithm's GS1 reference implementation
// (github.com/RalphTro/epcis-event-hash-generator, the one CBV 2.0 points
// to), including its details that the prose leaves open, so that a hub
// running that tool on rfidgw's events gets the same eventID:
//   - the canonical property order, each element as key=value without
//     separators, list items sorted; user extensions as {namespace}name=value,
//     nested ones after their parent, sorted as whole strings;
//   - times in UTC with milliseconds (rounded half to even, as Python's
//     round does), only for the standard time fields;
//   - every value through the same canonicalisation: CBV URNs to their
//     web URIs, numbers as Python's float() then str() write them (2.0 -> 2,
//     1e-05, 20-digit integers through a float64), EPC URIs to canonical
//     GS1 Digital Link URIs (gs1.DigitalLink);
//   - bare CBV values of bizStep and disposition expanded to
//     https://ref.gs1.org/cbv/BizStep-x and Disp-x, and the tool's JSON-LD
//     heuristic of also replacing any other string value that is the tail
//     ("-v" or "/v") of exactly one of those expanded values;
//   - recordTime, eventID, errorDeclaration, type, @context and comments
//     are not part of the hash (an event is hashed as it appears inside an
//     EPCISDocument, whose @context declares the namespaces).
//
// HashEvent supports what ObjectEvents of OBSERVE use: eventTime,
// eventTimeZoneOffset, epcList, action, bizStep, disposition, readPoint,
// bizLocation and user extensions. Any other standard field is an error
// rather than a silently different hash.

// HashVersion is the ?ver= of the ids HashEvent makes.
const HashVersion = "CBV2.0"

// knownFields are the standard event fields HashEvent handles, in the
// canonical order; ignoredFields are not hashed.
var (
	knownFields   = []string{"eventTime", "eventTimeZoneOffset", "epcList", "action", "bizStep", "disposition", "readPoint", "bizLocation"}
	ignoredFields = map[string]bool{"type": true, "eventID": true, "recordTime": true, "errorDeclaration": true, "@context": true, "comment": true, "rdfs:comment": true}
)

// HashEvent returns the event hash id and the pre-hash string of one event
// given as decoded JSON (numbers as json.Number or float64). ns maps the
// JSON-LD prefixes of the document's @context (e.g. "rfidgw") to their
// namespace IRIs.
func HashEvent(ev map[string]any, ns map[string]string) (id, prehash string, err error) {
	typ, _ := ev["type"].(string)
	if typ == "" {
		return "", "", fmt.Errorf("%w: event without a type", ErrHash)
	}
	expanded := expandedVocab(ev)
	var sb strings.Builder
	sb.WriteString("eventType=" + typ)
	var ext []string
	for k, v := range ev {
		if ignoredFields[k] || slices.Contains(knownFields, k) {
			continue
		}
		if !strings.Contains(k, ":") {
			return "", "", fmt.Errorf("%w: field %q is not supported by this implementation of the hash", ErrHash, k)
		}
		s, err := extNode(nsKey(k, ns), v, ns, expanded)
		if err != nil {
			return "", "", err
		}
		ext = append(ext, s)
	}
	for _, k := range knownFields {
		v, ok := ev[k]
		if !ok {
			continue
		}
		switch k {
		case "eventTime":
			s, _ := v.(string)
			t, err := canonTime(s)
			if err != nil {
				return "", "", err
			}
			sb.WriteString("eventTime=" + t)
		case "epcList":
			l, ok := v.([]any)
			if !ok {
				return "", "", fmt.Errorf("%w: epcList is not a list", ErrHash)
			}
			var items []string
			for _, x := range l {
				s, err := scalar(x)
				if err != nil {
					return "", "", fmt.Errorf("%w: epcList: %w", ErrHash, err)
				}
				if s = canonValue(bareReplace(nsValue(s, ns), expanded)); s != "" {
					items = append(items, "epc="+s)
				}
			}
			slices.Sort(items)
			if len(items) > 0 {
				sb.WriteString("epcList" + strings.Join(items, ""))
			}
		case "readPoint", "bizLocation":
			m, ok := v.(map[string]any)
			if !ok || len(m) != 1 {
				return "", "", fmt.Errorf("%w: %s must be an object with only an id", ErrHash, k)
			}
			s, err := scalar(m["id"])
			if err != nil {
				return "", "", fmt.Errorf("%w: %s id: %w", ErrHash, k, err)
			}
			if s = canonValue(bareReplace(nsValue(strings.TrimSpace(s), ns), expanded)); s != "" {
				sb.WriteString(k + "id=" + s)
			}
		default:
			s, err := scalar(v)
			if err != nil {
				return "", "", fmt.Errorf("%w: %s: %w", ErrHash, k, err)
			}
			s = strings.TrimSpace(s)
			switch k {
			case "bizStep":
				s = expandCBV(s, "BizStep-")
			case "disposition":
				s = expandCBV(s, "Disp-")
			}
			if s = canonValue(bareReplace(nsValue(s, ns), expanded)); s != "" {
				sb.WriteString(k + "=" + s)
			}
		}
	}
	slices.Sort(ext)
	for _, s := range ext {
		sb.WriteString(s)
	}
	prehash = sb.String()
	sum := sha256.Sum256([]byte(prehash))
	return "ni:///sha-256;" + hex.EncodeToString(sum[:]) + "?ver=" + HashVersion, prehash, nil
}

// cbvBizSteps and cbvDispositions are the bare CBV 2.0 values (the GS1
// EPCIS 2.0 JSON Schema's enums).
var (
	cbvBizSteps     = []string{"accepting", "arriving", "assembling", "collecting", "commissioning", "consigning", "creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying", "disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting", "installing", "killing", "loading", "other", "packing", "picking", "receiving", "removing", "repackaging", "repairing", "replacing", "reserving", "retail_selling", "shipping", "staging_outbound", "stock_taking", "stocking", "storing", "transporting", "unloading", "unpacking", "void_shipping", "sensor_reporting", "sampling"}
	cbvDispositions = []string{"active", "available", "completeness_verified", "completeness_inferred", "conformant", "container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed", "encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_instance", "mismatch_class", "mismatch_quantity", "needs_replacement", "no_pedigree_match", "non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved", "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen", "unavailable", "unknown"}
)

// expandCBV writes a bare CBV value as its web URI (bizStep "arriving" ->
// https://ref.gs1.org/cbv/BizStep-arriving).
func expandCBV(s, prefix string) string {
	list := cbvBizSteps
	if prefix == "Disp-" {
		list = cbvDispositions
	}
	if slices.Contains(list, s) {
		return "https://ref.gs1.org/cbv/" + prefix + s
	}
	return s
}

// expandedVocab is the set of CBV web URIs the event's bizStep and
// disposition expand to (what JSON-LD expansion yields for them).
func expandedVocab(ev map[string]any) []string {
	var out []string
	for k, p := range map[string]string{"bizStep": "BizStep-", "disposition": "Disp-"} {
		if s, ok := ev[k].(string); ok {
			if e := expandCBV(strings.TrimSpace(s), p); strings.HasPrefix(e, "https://ref.gs1.org/cbv") {
				out = append(out, e)
			}
		}
	}
	return out
}

// bareReplace is the reference tool's heuristic: a string value that is
// the tail of exactly one expanded vocabulary value becomes that value.
func bareReplace(s string, expanded []string) string {
	var hit string
	n := 0
	for _, e := range expanded {
		if strings.HasSuffix(e, "-"+s) || strings.HasSuffix(e, "/"+s) {
			hit = e
			n++
		}
	}
	if n == 1 {
		return hit
	}
	return s
}

// nsKey writes a prefixed key as {namespace}local.
func nsKey(k string, ns map[string]string) string {
	if p, local, ok := strings.Cut(k, ":"); ok {
		if iri, ok := ns[p]; ok {
			return "{" + iri + "}" + local
		}
	}
	return k
}

// nsValue expands a prefixed string value to namespace+local.
func nsValue(s string, ns map[string]string) string {
	if p, local, ok := strings.Cut(s, ":"); ok {
		if iri, ok := ns[p]; ok {
			return iri + local
		}
	}
	return s
}

// scalar is a JSON scalar as the reference tool's str() writes it.
func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case interface{ String() string }: // json.Number
		return x.String(), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case nil:
		return "None", nil
	}
	return "", fmt.Errorf("value of type %T where a string or number is expected", v)
}

// extNode is the pre-hash string of one user extension element: key,
// "=value" for a scalar, then its children sorted; a list gives one element
// per item, all with the key.
func extNode(key string, v any, ns map[string]string, expanded []string) (string, error) {
	if strings.HasSuffix(key, "List") {
		return "", fmt.Errorf("%w: extension %q: names ending in List are restructured by the reference tool; not supported", ErrHash, key)
	}
	switch x := v.(type) {
	case map[string]any:
		var kids []string
		for k, c := range x {
			if k == "type" || k == "#text" || k == "comment" || k == "rdfs:comment" {
				return "", fmt.Errorf("%w: extension %q: member %q is not supported", ErrHash, key, k)
			}
			s, err := extNode(nsKey(k, ns), c, ns, expanded)
			if err != nil {
				return "", err
			}
			kids = append(kids, s)
		}
		slices.Sort(kids)
		return key + strings.Join(kids, ""), nil
	case []any:
		var items []string
		for _, c := range x {
			if _, nested := c.([]any); nested {
				return "", fmt.Errorf("%w: extension %q: lists of lists are not supported", ErrHash, key)
			}
			s, err := extNode(key, c, ns, expanded)
			if err != nil {
				return "", err
			}
			items = append(items, s)
		}
		slices.Sort(items)
		return strings.Join(items, ""), nil
	}
	s, err := scalar(v)
	if err != nil {
		return "", fmt.Errorf("%w: extension %q: %w", ErrHash, key, err)
	}
	if _, isStr := v.(string); isStr {
		s = bareReplace(nsValue(s, ns), expanded)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return key, nil
	}
	c := canonValue(s)
	if c == "" {
		return key, nil
	}
	return key + "=" + c, nil
}

// canonValue runs a value through the reference tool's canonicalisations:
// CBV URNs to web URIs, numbers, EPC URIs to GS1 Digital Link.
func canonValue(s string) string {
	if strings.Contains(s, "urn:epcglobal:cbv:") {
		s = cbvURNs.Replace(s)
	}
	s = canonNumber(s)
	if strings.HasPrefix(s, "urn:epc:id:") || strings.HasPrefix(s, "https://id.gs1.org/") {
		if dl, ok := gs1.DigitalLink(s); ok {
			return dl
		}
	}
	return s
}

var cbvURNs = strings.NewReplacer(
	"urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-",
	"urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-",
	"urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-",
	"urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-",
	"urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-")

// pyFloat is the decimal syntax Python's float() accepts (underscores
// between digits included); inf and nan are left alone.
var pyFloat = regexp.MustCompile(`^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$`)

// canonNumber writes a numeric string as Python's str(float(s)) does, and
// integral values as str(int(float(s))): 2.0 -> 2, 0.30 -> 0.3, 1e-5 ->
// 1e-05, 12345678901234567890 -> 12345678901234567168.
func canonNumber(s string) string {
	if s == "" || !strings.ContainsAny(s[:1], "0123456789+-.") || !pyFloat.MatchString(s) {
		return s
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsInf(f, 0) {
		return s
	}
	if f == math.Trunc(f) {
		i, _ := big.NewFloat(f).Int(nil)
		return i.String()
	}
	if a := math.Abs(f); a < 1e-4 {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// canonTime writes a timestamp in UTC with milliseconds, the sub-
// millisecond part rounded half to even at microsecond precision (as the
// reference tool does with Python's round).
func canonTime(s string) (string, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("%w: eventTime %q: %w", ErrHash, s, err)
	}
	t = t.UTC()
	us := t.Nanosecond() / 1000
	ms, rem := us/1000, us%1000
	if rem > 500 || (rem == 500 && ms%2 == 1) {
		ms++
	}
	if ms == 1000 {
		return "", fmt.Errorf("%w: eventTime %q rounds into the next second, which the reference tool rejects", ErrHash, s)
	}
	t = t.Truncate(time.Second).Add(time.Duration(ms) * time.Millisecond)
	return t.Format("2006-01-02T15:04:05.000Z"), nil
}
