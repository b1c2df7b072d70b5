package gs1

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxHexLen bounds the EPC Decode accepts: 496 bits, the
// largest EPC bank a Gen2 tag can report (31 words), is 124 hex digits.
const MaxHexLen = 124

// EPC is one decoded EPC.
type EPC struct {
	// Scheme is the pure identity scheme: sgtin, sscc, sgln, grai, giai,
	// gsrn, gsrnp, gdti or gid.
	Scheme string
	// Encoding is the binary encoding: sgtin-96, sgtin-198, ...
	Encoding string
	// Filter is the 3-bit filter value, or -1 for GID-96 (which has none).
	Filter int
	// Fields are the scheme's components in URI order, unescaped.
	Fields []Field
	// Key is the GS1 element string of the key, e.g. (01)80614141123458(21)6789;
	// empty for GID.
	Key string
	// URI is the pure identity URI, e.g. urn:epc:id:sgtin:0614141.812345.6789.
	URI string
	// TagURI adds the encoding and the filter, e.g.
	// urn:epc:tag:sgtin-96:3.0614141.812345.6789.
	TagURI string
}

// Field is one component of a pure identity.
type Field struct {
	Name  string
	Value string
}

// FilterName is the meaning of a filter value as TDS section 10 names it:
// the SGTIN table (Table 10-1) in full, "all others" for value 0 of every
// scheme (its meaning in each table), "" where rfidgw does not name it
// (the other schemes' non-zero values; the number itself is always shown).
func FilterName(scheme string, filter int) string {
	switch {
	case filter < 0 || filter > 7:
		return ""
	case scheme == "sgtin":
		return sgtinFilters[filter]
	case filter == 0 && scheme != "gid":
		return "all others"
	}
	return ""
}

var sgtinFilters = [8]string{"all others", "point of sale (POS) trade item", "full case for transport", "reserved",
	"inner pack trade item grouping for handling", "reserved", "unit load",
	"unit inside trade item or component inside a product not intended for individual sale"}

// part is one row of a partition table: the GS1 Company Prefix has m bits
// and l digits, the field after it n bits and k digits (k characters for a
// string field).
type part struct{ m, l, n, k int }

// Partition tables of TDS section 14.2 (checked row by row against the
// BINARY levels of the GS1 Tag Data Translation 2.2 definition files).
var (
	// SGTIN (company prefix + indicator/item reference: 13 digits, 44 bits).
	sgtinParts = [7]part{{40, 12, 4, 1}, {37, 11, 7, 2}, {34, 10, 10, 3}, {30, 9, 14, 4}, {27, 8, 17, 5}, {24, 7, 20, 6}, {20, 6, 24, 7}}
	// SSCC and GSRN/GSRNP (17 digits, 58 bits).
	ssccParts = [7]part{{40, 12, 18, 5}, {37, 11, 21, 6}, {34, 10, 24, 7}, {30, 9, 28, 8}, {27, 8, 31, 9}, {24, 7, 34, 10}, {20, 6, 38, 11}}
	// SGLN and GDTI (12 digits, 41 bits).
	sglnParts = [7]part{{40, 12, 1, 0}, {37, 11, 4, 1}, {34, 10, 7, 2}, {30, 9, 11, 3}, {27, 8, 14, 4}, {24, 7, 17, 5}, {20, 6, 21, 6}}
	// GRAI (12 digits, 44 bits).
	graiParts = [7]part{{40, 12, 4, 0}, {37, 11, 7, 1}, {34, 10, 10, 2}, {30, 9, 14, 3}, {27, 8, 17, 4}, {24, 7, 20, 5}, {20, 6, 24, 6}}
	// GIAI-96: the asset reference is an unpadded integer of up to k digits.
	giai96Parts = [7]part{{40, 12, 42, 13}, {37, 11, 45, 14}, {34, 10, 48, 15}, {30, 9, 52, 16}, {27, 8, 55, 17}, {24, 7, 58, 18}, {20, 6, 62, 19}}
	// GIAI-202: the asset reference is a 7-bit string of up to k characters.
	giai202Parts = [7]part{{40, 12, 148, 18}, {37, 11, 151, 19}, {34, 10, 154, 20}, {30, 9, 158, 21}, {27, 8, 161, 22}, {24, 7, 164, 23}, {20, 6, 168, 24}}
)

// How the field after the partitioned pair is encoded.
const (
	tailNone    = iota // nothing (GIAI)
	tailInt            // integer of tailBits bits, decimal without leading zeros
	tailString         // 7-bit string of tailBits bits, at most tailChars characters
	tailReserve        // tailBits bits that must be zero (SSCC, GSRN)
)

// layout describes one encoding.
type layout struct {
	header    byte
	encoding  string
	scheme    string
	bits      int
	parts     *[7]part
	second    int // how the partitioned second field is encoded: 'd' digits, 'i' unpadded integer, 's' string
	names     [3]string
	tail      int
	tailBits  int
	tailChars int
}

// layouts is indexed by the header byte.
var layouts = func() (t [256]*layout) {
	for _, l := range []*layout{
		{header: 0x30, encoding: "sgtin-96", scheme: "sgtin", bits: 96, parts: &sgtinParts, second: 'd', names: [3]string{"company_prefix", "item_reference", "serial"}, tail: tailInt, tailBits: 38},
		{header: 0x36, encoding: "sgtin-198", scheme: "sgtin", bits: 198, parts: &sgtinParts, second: 'd', names: [3]string{"company_prefix", "item_reference", "serial"}, tail: tailString, tailBits: 140, tailChars: 20},
		{header: 0x31, encoding: "sscc-96", scheme: "sscc", bits: 96, parts: &ssccParts, second: 'd', names: [3]string{"company_prefix", "serial_reference"}, tail: tailReserve, tailBits: 24},
		{header: 0x32, encoding: "sgln-96", scheme: "sgln", bits: 96, parts: &sglnParts, second: 'd', names: [3]string{"company_prefix", "location_reference", "extension"}, tail: tailInt, tailBits: 41},
		{header: 0x39, encoding: "sgln-195", scheme: "sgln", bits: 195, parts: &sglnParts, second: 'd', names: [3]string{"company_prefix", "location_reference", "extension"}, tail: tailString, tailBits: 140, tailChars: 20},
		{header: 0x33, encoding: "grai-96", scheme: "grai", bits: 96, parts: &graiParts, second: 'd', names: [3]string{"company_prefix", "asset_type", "serial"}, tail: tailInt, tailBits: 38},
		{header: 0x37, encoding: "grai-170", scheme: "grai", bits: 170, parts: &graiParts, second: 'd', names: [3]string{"company_prefix", "asset_type", "serial"}, tail: tailString, tailBits: 112, tailChars: 16},
		{header: 0x34, encoding: "giai-96", scheme: "giai", bits: 96, parts: &giai96Parts, second: 'i', names: [3]string{"company_prefix", "asset_reference"}},
		{header: 0x38, encoding: "giai-202", scheme: "giai", bits: 202, parts: &giai202Parts, second: 's', names: [3]string{"company_prefix", "asset_reference"}},
		{header: 0x2D, encoding: "gsrn-96", scheme: "gsrn", bits: 96, parts: &ssccParts, second: 'd', names: [3]string{"company_prefix", "service_reference"}, tail: tailReserve, tailBits: 24},
		{header: 0x2E, encoding: "gsrnp-96", scheme: "gsrnp", bits: 96, parts: &ssccParts, second: 'd', names: [3]string{"company_prefix", "service_reference"}, tail: tailReserve, tailBits: 24},
		{header: 0x2C, encoding: "gdti-96", scheme: "gdti", bits: 96, parts: &sglnParts, second: 'd', names: [3]string{"company_prefix", "document_type", "serial"}, tail: tailInt, tailBits: 41},
		{header: 0x3E, encoding: "gdti-174", scheme: "gdti", bits: 174, parts: &sglnParts, second: 'd', names: [3]string{"company_prefix", "document_type", "serial"}, tail: tailString, tailBits: 119, tailChars: 17},
		{header: 0x35, encoding: "gid-96", scheme: "gid", bits: 96, names: [3]string{"manager", "object_class", "serial"}},
	} {
		t[l.header] = l
	}
	return t
}()

// Schemes lists the pure identity schemes Decode produces.
var Schemes = []string{"sgtin", "sscc", "sgln", "grai", "giai", "gsrn", "gsrnp", "gdti", "gid"}

// bitReader reads big-endian bit fields from the EPC bytes.
type bitReader struct {
	b   []byte
	pos int
}

// read returns the next n (<= 64) bits as an integer.
func (r *bitReader) read(n int) uint64 {
	var v uint64
	for i := 0; i < n; i++ {
		p := r.pos + i
		v = v<<1 | uint64(r.b[p>>3]>>(7-uint(p&7))&1)
	}
	r.pos += n
	return v
}

// hexBytes parses an EPC's hex digits (either case).
func hexBytes(hex string) ([]byte, error) {
	if len(hex) == 0 {
		return nil, fmt.Errorf("%w: %w: empty", ErrMalformed, ErrNotHex)
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f') {
			return nil, fmt.Errorf("%w: %w: %q at position %d", ErrMalformed, ErrNotHex, c, i+1)
		}
	}
	if len(hex) > MaxHexLen {
		return nil, fmt.Errorf("%w: %d hex digits, longer than any EPC (%d)", ErrMalformed, len(hex), MaxHexLen)
	}
	b := make([]byte, (len(hex)+1)/2)
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		var v byte
		switch {
		case c <= '9':
			v = c - '0'
		case c <= 'F':
			v = c - 'A' + 10
		default:
			v = c - 'a' + 10
		}
		if i%2 == 0 {
			b[i/2] = v << 4
		} else {
			b[i/2] |= v
		}
	}
	return b, nil
}

// Decode decodes an EPC given as hex digits (the EPC bank from the PC word
// on, as readers report it). Bits after the encoding's length (the padding
// to a 16-bit word of the 198/195/170/202/174-bit encodings) are ignored.
// A header Decode does not handle gives ErrNotGS1; broken bits ErrMalformed.
func Decode(hex string) (EPC, error) {
	b, err := hexBytes(hex)
	if err != nil {
		return EPC{}, err
	}
	l := layouts[b[0]]
	if l == nil {
		return EPC{}, fmt.Errorf("%w: header %02X", ErrNotGS1, b[0])
	}
	if have := len(hex) * 4; have < l.bits {
		return EPC{}, fmt.Errorf("%w: %s needs %d bits, the EPC has %d", ErrMalformed, l.encoding, l.bits, have)
	}
	r := bitReader{b: b, pos: 8}
	e := EPC{Scheme: l.scheme, Encoding: l.encoding, Filter: -1}
	if l.parts == nil { // GID-96: three integers, no filter
		m, c, s := r.read(28), r.read(24), r.read(36)
		e.Fields = []Field{{l.names[0], strconv.FormatUint(m, 10)}, {l.names[1], strconv.FormatUint(c, 10)}, {l.names[2], strconv.FormatUint(s, 10)}}
		e.finish(l)
		return e, nil
	}
	e.Filter = int(r.read(3))
	p := int(r.read(3))
	if p > 6 {
		return EPC{}, fmt.Errorf("%w: %s partition value 7 is not defined", ErrMalformed, l.encoding)
	}
	pt := l.parts[p]
	cp, err := digits(r.read(pt.m), pt.l)
	if err != nil {
		return EPC{}, fmt.Errorf("%w: %s company prefix: %w", ErrMalformed, l.encoding, err)
	}
	var second string
	switch l.second {
	case 'd':
		second, err = digits(r.read(pt.n), pt.k)
	case 'i':
		v := r.read(pt.n)
		second = strconv.FormatUint(v, 10)
		if len(second) > pt.k {
			err = fmt.Errorf("%d has more than %d digits", v, pt.k)
		}
	case 's':
		second, err = readString(&r, pt.n, pt.k)
	}
	if err != nil {
		return EPC{}, fmt.Errorf("%w: %s %s: %w", ErrMalformed, l.encoding, strings.ReplaceAll(l.names[1], "_", " "), err)
	}
	e.Fields = []Field{{l.names[0], cp}, {l.names[1], second}}
	switch l.tail {
	case tailInt:
		e.Fields = append(e.Fields, Field{l.names[2], strconv.FormatUint(r.read(l.tailBits), 10)})
	case tailString:
		s, err := readString(&r, l.tailBits, l.tailChars)
		if err != nil {
			return EPC{}, fmt.Errorf("%w: %s %s: %w", ErrMalformed, l.encoding, l.names[2], err)
		}
		e.Fields = append(e.Fields, Field{l.names[2], s})
	case tailReserve:
		if v := r.read(l.tailBits); v != 0 {
			return EPC{}, fmt.Errorf("%w: %s reserved bits are not zero", ErrMalformed, l.encoding)
		}
	}
	e.finish(l)
	return e, nil
}

// digits formats v with exactly n decimal digits (n = 0: v must be 0).
func digits(v uint64, n int) (string, error) {
	s := strconv.FormatUint(v, 10)
	if n == 0 {
		if v != 0 {
			return "", fmt.Errorf("value %d where the partition allows no digits", v)
		}
		return "", nil
	}
	if len(s) > n {
		return "", fmt.Errorf("value %d has more than %d digits", v, n)
	}
	if len(s) < n {
		s = strings.Repeat("0", n-len(s)) + s
	}
	return s, nil
}

// readString decodes a 7-bit string field of n bits holding at most max
// characters (the TDS "String" decoding method): characters up to the first
// zero character, all following bits zero, every character from the GS1
// AI encodable character set 82, at least one character.
func readString(r *bitReader, n, max int) (string, error) {
	end := r.pos + n
	var sb strings.Builder
	for r.pos+7 <= end {
		c := byte(r.read(7))
		if c == 0 {
			break
		}
		if sb.Len() == max {
			return "", fmt.Errorf("more than %d characters", max)
		}
		if !isCS82(c) {
			return "", fmt.Errorf("character 0x%02X is not in the GS1 character set", c)
		}
		sb.WriteByte(c)
	}
	for r.pos < end { // the rest must be zero
		k := min(end-r.pos, 64)
		if r.read(k) != 0 {
			return "", fmt.Errorf("non-zero bits after the string")
		}
	}
	if sb.Len() == 0 {
		return "", fmt.Errorf("empty string")
	}
	return sb.String(), nil
}

// isCS82 reports whether c is in the GS1 AI encodable character set 82
// (TDS Table A-1): ! " % & ' ( ) * + , - . / 0-9 : ; < = > ? A-Z _ a-z.
func isCS82(c byte) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte(`!"%&'()*+,-./:;<=>?_`, c) >= 0
}

// escape writes a component in its URI form: the characters of set 82 that
// are not allowed literally in a URI are %-escaped (TDS Table A-1).
func escape(s string) string {
	if !strings.ContainsAny(s, `"%&/<>?`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '%', '&', '/', '<', '>', '?':
			fmt.Fprintf(&sb, "%%%02X", c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// finish fills URI, TagURI and Key from the fields.
func (e *EPC) finish(l *layout) {
	var comps []string
	for _, f := range e.Fields {
		comps = append(comps, escape(f.Value))
	}
	body := strings.Join(comps, ".")
	e.URI = "urn:epc:id:" + e.Scheme + ":" + body
	if e.Filter < 0 {
		e.TagURI = "urn:epc:tag:" + e.Encoding + ":" + body
	} else {
		e.TagURI = "urn:epc:tag:" + e.Encoding + ":" + strconv.Itoa(e.Filter) + "." + body
	}
	e.Key = elementString(e.Scheme, e.Fields)
}

// elementString is the GS1 element string of a pure identity's fields.
func elementString(scheme string, f []Field) string {
	switch scheme {
	case "sgtin":
		g := gtin(f[0].Value, f[1].Value)
		return "(01)" + g + "(21)" + f[2].Value
	case "sscc":
		return "(00)" + sscc(f[0].Value, f[1].Value)
	case "sgln":
		gln := withCheck(f[0].Value + f[1].Value)
		if f[2].Value == "0" {
			return "(414)" + gln
		}
		return "(414)" + gln + "(254)" + f[2].Value
	case "grai":
		return "(8003)" + withCheck("0"+f[0].Value+f[1].Value) + f[2].Value
	case "giai":
		return "(8004)" + f[0].Value + f[1].Value
	case "gsrn":
		return "(8018)" + withCheck(f[0].Value+f[1].Value)
	case "gsrnp":
		return "(8017)" + withCheck(f[0].Value+f[1].Value)
	case "gdti":
		return "(253)" + withCheck(f[0].Value+f[1].Value) + f[2].Value
	}
	return ""
}

// gtin is the GTIN-14 of an SGTIN: indicator digit, company prefix, item
// reference, check digit.
func gtin(cp, itemRef string) string { return withCheck(itemRef[:1] + cp + itemRef[1:]) }

// sscc is the 18-digit SSCC: extension digit, company prefix, serial
// reference, check digit.
func sscc(cp, serialRef string) string { return withCheck(serialRef[:1] + cp + serialRef[1:]) }

// withCheck appends the GS1 mod-10 check digit (weights 3 and 1 from the
// right, GS1 General Specifications 7.9.1).
func withCheck(d string) string {
	sum := 0
	for i := 0; i < len(d); i++ {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 0 {
			v *= 3
		}
		sum += v
	}
	return d + string(rune('0'+(10-sum%10)%10))
}

// RawURI is the EPC raw URI of TDS section 12 for an EPC that does not
// decode: urn:epc:raw:<bits>.x<HEX>, e.g. urn:epc:raw:96.x1234567890ABCDEF01234567.
// hex must be valid hex digits (the gateway's EPCs are, and the readers
// bound their length); characters that are not hex digits are dropped, so
// the result is always a syntactically valid URI. It never truncates: a
// raw URI stands for the whole EPC.
func RawURI(hex string) string {
	u := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'F':
			return r
		case r >= 'a' && r <= 'f':
			return r - 'a' + 'A'
		}
		return -1
	}, hex)
	return "urn:epc:raw:" + strconv.Itoa(len(u)*4) + ".x" + u
}
