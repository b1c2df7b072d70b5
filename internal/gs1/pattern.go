package gs1

import (
	"fmt"
	"strings"
	"sync"
)

// MaxPatternLen bounds one filter pattern.
const MaxPatternLen = 256

// Pattern is one entry of an accept or ignore list. The forms:
//
//	sgtin, giai, ...                 every EPC of that scheme (Schemes)
//	raw                              every EPC that does not decode
//	urn:epc:id:giai:0614141.*        pure identity URI; '*' matches any run of characters
//	urn:epc:idpat:sgtin:0614141.*.*  TDS pattern URI; '*' is one whole component
//	urn:epc:tag:sgtin-96:3.*         tag URI (encoding and filter value); '*' as above
//	E280, E2801160*                  raw hex prefix of the EPC (either case)
//
// ParsePattern rejects patterns that can never match: unknown schemes and
// encodings, components that break the scheme's rules (a company prefix
// of 13 digits, letters in an SGTIN item reference, too many components,
// a filter value of 8, ...).
type Pattern struct {
	src    string
	kind   byte   // 's' scheme, 'r' raw, 'u' URI glob, 'p' idpat, 't' tag URI glob, 'h' hex prefix
	scheme string // 's', 'u', 'p', 't'
	glob   string // 'u', 't': the whole glob; 'h': the upper-case prefix
	comps  []string
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.src }

// ParsePattern parses and checks one pattern.
func ParsePattern(s string) (Pattern, error) {
	p := Pattern{src: s}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return p, fmt.Errorf("%w: empty pattern", ErrPattern)
	case len(s) > MaxPatternLen:
		return p, fmt.Errorf("%w: %.40q...: longer than %d characters", ErrPattern, s, MaxPatternLen)
	case s == "raw":
		p.kind = 'r'
		return p, nil
	case uriSchemes[s] != nil:
		p.kind, p.scheme = 's', s
		return p, nil
	case strings.HasPrefix(s, "urn:epc:id:"):
		return p, p.parseURIGlob(s)
	case strings.HasPrefix(s, "urn:epc:idpat:"):
		return p, p.parseIDPat(s)
	case strings.HasPrefix(s, "urn:epc:tag:"):
		return p, p.parseTagGlob(s)
	}
	h := strings.TrimSuffix(s, "*")
	if h != "" && allHex(h) {
		if len(h) > MaxHexLen {
			return p, fmt.Errorf("%w: %q: a hex prefix longer than an EPC (%d digits) can never match", ErrPattern, s, MaxHexLen)
		}
		p.kind, p.glob = 'h', strings.ToUpper(h)
		return p, nil
	}
	return p, fmt.Errorf("%w: %q is none of: a scheme name (%s), raw, urn:epc:id:..., urn:epc:idpat:..., urn:epc:tag:..., or a hex prefix of the EPC",
		ErrPattern, s, strings.Join(Schemes, ", "))
}

func (p *Pattern) parseURIGlob(s string) error {
	rest := strings.TrimPrefix(s, "urn:epc:id:")
	scheme, body, ok := strings.Cut(rest, ":")
	spec := uriSchemes[scheme]
	if spec == nil || strings.Contains(scheme, "*") {
		return fmt.Errorf("%w: %q: scheme %q is not one rfidgw decodes (%s), so it can never match", ErrPattern, s, scheme, strings.Join(Schemes, ", "))
	}
	if !ok {
		return fmt.Errorf("%w: %q: want urn:epc:id:%s:COMPONENTS", ErrPattern, s, scheme)
	}
	p.kind, p.scheme, p.glob = 'u', scheme, s
	if !strings.Contains(body, "*") {
		if _, _, err := ParseURI(s); err != nil {
			return fmt.Errorf("%w: %w, so it can never match", ErrPattern, err)
		}
		return nil
	}
	// The text before the first '*' must begin some valid URI.
	lit, _, _ := strings.Cut(body, "*")
	parts := strings.SplitN(lit, ".", len(spec))
	last := spec[len(spec)-1].kind
	if dots := strings.Count(strings.ReplaceAll(body, "*", ""), "."); last != 's' && last != 'g' && dots >= len(spec) {
		return fmt.Errorf("%w: %q: a %s URI has %d components, so it can never match", ErrPattern, s, scheme, len(spec))
	}
	cpLen := 0
	for i, c := range parts {
		if err := checkComp(spec[i], c, cpLen, i == len(parts)-1); err != nil {
			return fmt.Errorf("%w: %q: component %d: %w, so it can never match", ErrPattern, s, i+1, err)
		}
		if spec[i].kind == 'c' {
			cpLen = len(c)
		}
	}
	return nil
}

func (p *Pattern) parseIDPat(s string) error {
	rest := strings.TrimPrefix(s, "urn:epc:idpat:")
	scheme, body, ok := strings.Cut(rest, ":")
	spec := uriSchemes[scheme]
	if spec == nil || !ok {
		return fmt.Errorf("%w: %q: want urn:epc:idpat:SCHEME:COMPONENTS with SCHEME one of %s", ErrPattern, s, strings.Join(Schemes, ", "))
	}
	comps := strings.Split(body, ".")
	if len(comps) != len(spec) {
		return fmt.Errorf("%w: %q: a %s pattern has %d components ('*' for any), this has %d, so it can never match", ErrPattern, s, scheme, len(spec), len(comps))
	}
	cpLen := 0
	for i, c := range comps {
		if c == "*" {
			if spec[i].kind == 'c' {
				cpLen = -1 // unknown
			}
			continue
		}
		if strings.Contains(c, "*") {
			return fmt.Errorf("%w: %q: in urn:epc:idpat '*' stands for a whole component", ErrPattern, s)
		}
		k := spec[i]
		if cpLen < 0 && (k.kind == 'n' || k.kind == 'g') {
			// Company prefix unknown: only check the shape.
			if err := checkComp(k, c, 0, true); err != nil && k.kind == 'g' {
				return fmt.Errorf("%w: %q: component %d: %w", ErrPattern, s, i+1, err)
			} else if k.kind == 'n' && (!allDigits(c) || len(c) > k.total-6) {
				return fmt.Errorf("%w: %q: component %d: %q: want at most %d digits, so it can never match", ErrPattern, s, i+1, c, k.total-6)
			}
			continue
		}
		if err := checkComp(k, c, cpLen, false); err != nil {
			return fmt.Errorf("%w: %q: component %d: %w, so it can never match", ErrPattern, s, i+1, err)
		}
		if k.kind == 'c' {
			cpLen = len(c)
		}
	}
	p.kind, p.scheme, p.comps = 'p', scheme, comps
	return nil
}

// encodings lists the tag URI encoding names Decode produces.
var encodings = func() map[string]string {
	m := map[string]string{}
	for _, l := range layouts {
		if l != nil {
			m[l.encoding] = l.scheme
		}
	}
	return m
}()

func (p *Pattern) parseTagGlob(s string) error {
	rest := strings.TrimPrefix(s, "urn:epc:tag:")
	enc, body, ok := strings.Cut(rest, ":")
	scheme, known := encodings[enc]
	if !known {
		if strings.Contains(enc, "*") {
			return fmt.Errorf("%w: %q: write the encoding in full (e.g. sgtin-96); '*' is for the components", ErrPattern, s)
		}
		return fmt.Errorf("%w: %q: encoding %q is not one rfidgw decodes, so it can never match", ErrPattern, s, enc)
	}
	if !ok || body == "" {
		return fmt.Errorf("%w: %q: want urn:epc:tag:%s:FILTER.COMPONENTS", ErrPattern, s, enc)
	}
	if scheme != "gid" && body[0] != '*' && (body[0] < '0' || body[0] > '7' || (len(body) > 1 && body[1] != '.' && body[1] != '*')) {
		return fmt.Errorf("%w: %q: the filter value is one digit 0 to 7, so it can never match", ErrPattern, s)
	}
	p.kind, p.scheme, p.glob = 't', scheme, s
	return nil
}

// Match reports whether the pattern matches an EPC: hex is its hex digits,
// e its decoding (ok false when it did not decode).
func (p *Pattern) Match(hex string, e *EPC, ok bool) bool {
	switch p.kind {
	case 'h':
		return hasPrefixFold(hex, p.glob)
	case 'r':
		return !ok
	case 's':
		return ok && e.Scheme == p.scheme
	case 'u':
		return ok && e.Scheme == p.scheme && globMatch(p.glob, e.URI)
	case 't':
		return ok && e.Scheme == p.scheme && globMatch(p.glob, e.TagURI)
	case 'p':
		if !ok || e.Scheme != p.scheme || len(e.Fields) != len(p.comps) {
			return false
		}
		for i, c := range p.comps {
			if c != "*" && c != escape(e.Fields[i].Value) {
				return false
			}
		}
		return true
	}
	return false
}

// needsDecode reports whether matching needs the decoded EPC.
func (p *Pattern) needsDecode() bool { return p.kind != 'h' }

// schemes is what the pattern can match: a scheme name, "raw", or "" for
// anything (a hex prefix too short to fix the header).
func (p *Pattern) matchScheme() string {
	switch p.kind {
	case 'r':
		return "raw"
	case 'h':
		if len(p.glob) < 2 {
			return ""
		}
		b, _ := hexBytes(p.glob[:2])
		if l := layouts[b[0]]; l != nil {
			return "" // a GS1 header, but the rest may still not decode
		}
		return "raw"
	}
	return p.scheme
}

func hasPrefixFold(s, upperPrefix string) bool {
	if len(s) < len(upperPrefix) {
		return false
	}
	for i := 0; i < len(upperPrefix); i++ {
		c := s[i]
		if c >= 'a' && c <= 'f' {
			c -= 'a' - 'A'
		}
		if c != upperPrefix[i] {
			return false
		}
	}
	return true
}

// globMatch matches s against a pattern where '*' is any run of characters.
func globMatch(pat, s string) bool {
	// Iterative matcher with backtracking to the last star: O(len(pat)*len(s)) worst case, both bounded.
	px, sx, starP, starS := 0, 0, -1, 0
	for sx < len(s) {
		switch {
		case px < len(pat) && pat[px] == '*':
			starP, starS = px, sx
			px++
		case px < len(pat) && pat[px] == s[sx]:
			px++
			sx++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pat) && pat[px] == '*' {
		px++
	}
	return px == len(pat)
}

// Filter is an accept list and an ignore list: an EPC passes when the
// accept list is empty or one of its patterns matches, and no ignore
// pattern matches. It is safe for concurrent use; verdicts are cached per
// EPC (up to cacheMax EPCs, then the cache starts over), so the steady state
// costs a map lookup per read.
type Filter struct {
	accept, ignore []Pattern
	decode         bool

	mu    sync.Mutex
	cache map[string]bool
}

const cacheMax = 1 << 16

// NewFilter parses both lists; the error names every bad pattern. A nil
// Filter (no patterns) lets everything pass.
func NewFilter(accept, ignore []string) (*Filter, error) {
	if len(accept) == 0 && len(ignore) == 0 {
		return nil, nil
	}
	f := &Filter{cache: map[string]bool{}}
	var errs []string
	for i, s := range accept {
		p, err := ParsePattern(s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("accept[%d]: %v", i, err))
		}
		f.accept = append(f.accept, p)
	}
	for i, s := range ignore {
		p, err := ParsePattern(s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("ignore[%d]: %v", i, err))
		}
		f.ignore = append(f.ignore, p)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrPattern, strings.Join(errs, "; "))
	}
	for _, l := range [][]Pattern{f.accept, f.ignore} {
		for i := range l {
			f.decode = f.decode || l[i].needsDecode()
		}
	}
	return f, nil
}

// Allows reports whether an EPC (hex digits) passes the filter.
func (f *Filter) Allows(hex string) bool {
	if f == nil {
		return true
	}
	f.mu.Lock()
	v, hit := f.cache[hex]
	f.mu.Unlock()
	if hit {
		return v
	}
	v = f.eval(hex)
	f.mu.Lock()
	if len(f.cache) >= cacheMax {
		clear(f.cache)
	}
	f.cache[hex] = v
	f.mu.Unlock()
	return v
}

func (f *Filter) eval(hex string) bool {
	var e EPC
	ok := false
	if f.decode {
		var err error
		e, err = Decode(hex)
		ok = err == nil
	}
	if len(f.accept) > 0 {
		hit := false
		for i := range f.accept {
			if f.accept[i].Match(hex, &e, ok) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	for i := range f.ignore {
		if f.ignore[i].Match(hex, &e, ok) {
			return false
		}
	}
	return true
}

// Accept and Ignore return the patterns as written (for display).
func (f *Filter) Accept() []string { return f.strings(true) }

// Ignore: see Accept.
func (f *Filter) Ignore() []string { return f.strings(false) }

func (f *Filter) strings(accept bool) []string {
	if f == nil {
		return nil
	}
	l := f.ignore
	if accept {
		l = f.accept
	}
	out := make([]string, len(l))
	for i, p := range l {
		out[i] = p.src
	}
	return out
}

// Unreachable returns the accept patterns of inner (a zone's filter) that
// can never match an EPC that outer (the gateway's filter, applied first)
// lets through, judged by scheme: outer accepts only other schemes, or
// ignores the pattern's whole scheme. Each is a configuration error.
func Unreachable(outer, inner *Filter) []string {
	if outer == nil || inner == nil {
		return nil
	}
	var out []string
	for i := range inner.accept {
		p := &inner.accept[i]
		s := p.matchScheme()
		if s == "" {
			continue
		}
		blocked := false
		for j := range outer.ignore {
			q := &outer.ignore[j]
			if (q.kind == 's' || q.kind == 'r') && q.matchScheme() == s {
				blocked = true
			}
		}
		if !blocked && len(outer.accept) > 0 {
			blocked = true
			for j := range outer.accept {
				if qs := outer.accept[j].matchScheme(); qs == "" || qs == s {
					blocked = false
					break
				}
			}
		}
		if blocked {
			out = append(out, p.src)
		}
	}
	return out
}
