package gs1

import (
	"errors"
	"strings"
	"testing"
)

// FuzzDecode: any input either decodes into a URI that parses back with the
// same scheme and fields (and a tag URI naming the encoding), or fails with
// one of the two sentinel errors; never a panic.
func FuzzDecode(f *testing.F) {
	for _, c := range tdsExamples {
		f.Add(c.hex)
	}
	for _, s := range []string{"", "30", "E28011606000020D8F3A1B2C", "3666C4409047E1408000000000000000000000000000000000", "307C257BF7194E4000001A85", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, hex string) {
		e, err := Decode(hex)
		if err != nil {
			if !errors.Is(err, ErrNotGS1) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%q): error %v wraps no sentinel", hex, err)
			}
			if u := RawURI(hex); !strings.HasPrefix(u, "urn:epc:raw:") {
				t.Fatalf("RawURI(%q) = %q", hex, u)
			}
			return
		}
		scheme, comps, err := ParseURI(e.URI)
		if err != nil || scheme != e.Scheme || len(comps) != len(e.Fields) {
			t.Fatalf("Decode(%q) = %s, which does not parse back: %s %v %v", hex, e.URI, scheme, comps, err)
		}
		for i, c := range comps {
			if c != escape(e.Fields[i].Value) {
				t.Fatalf("Decode(%q): component %d %q vs field %q", hex, i, c, e.Fields[i].Value)
			}
		}
		if !strings.HasPrefix(e.TagURI, "urn:epc:tag:"+e.Encoding+":") {
			t.Fatalf("Decode(%q): tag URI %s", hex, e.TagURI)
		}
		if e.Scheme != "gid" {
			if _, ok := DigitalLink(e.URI); !ok {
				t.Fatalf("Decode(%q): %s has no Digital Link form", hex, e.URI)
			}
		}
	})
}

// FuzzPattern: ParsePattern accepts or rejects with ErrPattern, and an
// accepted pattern can be matched against any EPC without a panic.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{"sgtin", "raw", "urn:epc:id:giai:0614141.*", "urn:epc:idpat:sgtin:0614141.*.*", "urn:epc:tag:sgtin-96:3.*", "E280*", "urn:epc:id:sgtin:0614141.812345.6789", "urn:epc:id:giai:0614141.%2F*", "**"} {
		f.Add(s, sgtin96)
	}
	f.Fuzz(func(t *testing.T, pat, hex string) {
		p, err := ParsePattern(pat)
		if err != nil {
			if !errors.Is(err, ErrPattern) {
				t.Fatalf("ParsePattern(%q): %v wraps no ErrPattern", pat, err)
			}
			return
		}
		e, derr := Decode(hex)
		p.Match(hex, &e, derr == nil)
		if derr == nil && p.kind == 'u' && !strings.Contains(pat, "*") && p.Match(hex, &e, true) != (e.URI == strings.TrimSpace(pat)) {
			t.Fatalf("exact pattern %q vs %s", pat, e.URI)
		}
	})
}
