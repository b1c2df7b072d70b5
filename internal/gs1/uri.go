package gs1

import (
	"fmt"
	"strconv"
	"strings"
)

// comp is the kind of one component of a pure identity URI (TDS section 6).
type comp struct {
	kind  byte // 'c' company prefix, 'n' digits completing the key, 's' GS3A3 string, 'g' GIAI asset reference, 'd' GID integer
	total int  // 'n': digits of company prefix + this component; 's': most characters; 'd': largest value
}

// uriSchemes describes the components of each pure identity scheme Decode
// produces; it is what ParseURI and the patterns check against.
var uriSchemes = map[string][]comp{
	"sgtin": {{'c', 0}, {'n', 13}, {'s', 20}},
	"sscc":  {{'c', 0}, {'n', 17}},
	"sgln":  {{'c', 0}, {'n', 12}, {'s', 20}},
	"grai":  {{'c', 0}, {'n', 12}, {'s', 16}},
	"giai":  {{'c', 0}, {'g', 30}},
	"gsrn":  {{'c', 0}, {'n', 17}},
	"gsrnp": {{'c', 0}, {'n', 17}},
	"gdti":  {{'c', 0}, {'n', 12}, {'s', 17}},
	"gid":   {{'d', 1<<28 - 1}, {'d', 1<<24 - 1}, {'d', 1<<36 - 1}},
}

// ParseURI splits a pure identity URI (urn:epc:id:SCHEME:...) of one of the
// schemes Decode produces into its scheme and components (as written, still
// %-escaped), checking every component against the scheme's rules.
func ParseURI(uri string) (scheme string, comps []string, err error) {
	rest, ok := strings.CutPrefix(uri, "urn:epc:id:")
	if !ok {
		return "", nil, fmt.Errorf("%q does not start with %q", uri, "urn:epc:id:")
	}
	scheme, body, ok := strings.Cut(rest, ":")
	spec, known := uriSchemes[scheme]
	if !ok || !known {
		return "", nil, fmt.Errorf("%q: scheme %q is not one of %s", uri, scheme, strings.Join(Schemes, ", "))
	}
	// The last component of sgtin, sgln, grai, giai and gdti may itself
	// contain '.', a GS1 character the URI does not escape.
	comps = strings.SplitN(body, ".", len(spec))
	if len(comps) != len(spec) || (spec[len(spec)-1].kind != 's' && spec[len(spec)-1].kind != 'g' && strings.Contains(comps[len(comps)-1], ".")) {
		return "", nil, fmt.Errorf("%q: a %s URI has %d components separated by '.', this has %d", uri, scheme, len(spec), strings.Count(body, ".")+1)
	}
	cpLen := 0
	for i, c := range comps {
		if err := checkComp(spec[i], c, cpLen, false); err != nil {
			return "", nil, fmt.Errorf("%q: component %d: %w", uri, i+1, err)
		}
		if spec[i].kind == 'c' {
			cpLen = len(c)
		}
	}
	return scheme, comps, nil
}

// checkComp checks one component; partial means c may be the beginning of
// a valid component (a pattern's text before its first '*').
func checkComp(k comp, c string, cpLen int, partial bool) error {
	switch k.kind {
	case 'c':
		if !allDigits(c) || len(c) > 12 || (!partial && len(c) < 6) {
			return fmt.Errorf("%q is not a GS1 Company Prefix (6 to 12 digits)", c)
		}
	case 'n':
		want := k.total - cpLen
		if !allDigits(c) || len(c) > want || (!partial && len(c) != want) {
			return fmt.Errorf("%q: want %d digits after a %d-digit company prefix", c, want, cpLen)
		}
	case 's', 'g':
		max := k.total
		if k.kind == 'g' {
			max -= cpLen
		}
		n, err := gs3a3Len(c, partial)
		if err != nil {
			return err
		}
		if n > max || (!partial && n == 0) {
			return fmt.Errorf("%q: want 1 to %d characters", c, max)
		}
	case 'd':
		if !allDigits(c) || (!partial && c == "") || (len(c) > 1 && c[0] == '0') {
			return fmt.Errorf("%q is not a decimal number without leading zeros", c)
		}
		if c != "" {
			if v, err := strconv.ParseUint(c, 10, 64); err != nil || v > uint64(k.total) {
				return fmt.Errorf("%q is more than %d", c, k.total)
			}
		}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// gs3a3Len checks a URI component of GS1 characters (set 82, with
// " % & / < > ? written as %22 %25 %26 %2F %3C %3E %3F) and returns how many
// characters it stands for. partial allows a cut-off escape at the end.
func gs3a3Len(c string, partial bool) (int, error) {
	n := 0
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if ch == '%' {
			if len(c)-i < 3 {
				if partial && allHex(c[i+1:]) {
					return n + 1, nil
				}
				return 0, fmt.Errorf("%q: cut-off %%-escape", c)
			}
			v, err := strconv.ParseUint(c[i+1:i+3], 16, 8)
			if err != nil || !strings.ContainsRune(`"%&/<>?`, rune(v)) {
				return 0, fmt.Errorf("%q: %s is not one of the escapes %%22 %%25 %%26 %%2F %%3C %%3E %%3F", c, c[i:i+3])
			}
			i += 2
		} else if !isCS82(ch) || strings.IndexByte(`"&/<>?`, ch) >= 0 {
			return 0, fmt.Errorf("%q: character %q is not allowed", c, ch)
		}
		n++
	}
	return n, nil
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(s[i])) {
			return false
		}
	}
	return true
}

// DigitalLink converts a pure identity URI of a GS1 key (sgtin, sscc, sgln,
// grai, giai, gsrn, gsrnp, gdti) to its canonical GS1 Digital Link URI on
// id.gs1.org, as the CBV 2.0 event hash requires ("EPC URIs SHALL be
// converted into the corresponding canonical GS1 Digital Link URI"): the
// same conversion as the GS1 reference implementation of the hash
// (github.com/RalphTro/epcis-event-hash-generator, dl_normaliser.py), which
// keeps the EPC URI's escapes and %-encodes ! ( ) * + , : on top. A GS1
// Digital Link URI on id.gs1.org is returned as it is. Anything else (gid,
// raw and tag URIs, any other URI) gives ok == false: the hash uses it as
// it is.
func DigitalLink(uri string) (string, bool) {
	if strings.HasPrefix(uri, "https://id.gs1.org/") {
		return uri, true
	}
	scheme, c, err := ParseURI(uri)
	if err != nil {
		return "", false
	}
	const base = "https://id.gs1.org/"
	switch scheme {
	case "sgtin":
		return base + "01/" + gtin(c[0], c[1]) + "/21/" + dlEscape(c[2]), true
	case "sscc":
		return base + "00/" + sscc(c[0], c[1]), true
	case "sgln":
		dl := base + "414/" + withCheck(c[0]+c[1])
		if c[2] != "0" {
			dl += "/254/" + dlEscape(c[2])
		}
		return dl, true
	case "grai":
		return base + "8003/" + withCheck("0"+c[0]+c[1]) + dlEscape(c[2]), true
	case "giai":
		return base + "8004/" + c[0] + dlEscape(c[1]), true
	case "gsrn":
		return base + "8018/" + withCheck(c[0]+c[1]), true
	case "gsrnp":
		return base + "8017/" + withCheck(c[0]+c[1]), true
	case "gdti":
		return base + "253/" + withCheck(c[0]+c[1]) + dlEscape(c[2]), true
	}
	return "", false
}

// dlEscape adds the GS1 Digital Link escapes of ! ( ) * + , : to a
// component already in EPC URI form.
func dlEscape(s string) string {
	if !strings.ContainsAny(s, "!()*+,:") {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '!', '(', ')', '*', '+', ',', ':':
			fmt.Fprintf(&sb, "%%%02X", c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
