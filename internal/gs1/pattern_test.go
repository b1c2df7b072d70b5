package gs1

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

const (
	sgtin96  = "3074257BF7194E4000001A85" // urn:epc:id:sgtin:0614141.812345.6789, filter 3
	giai96   = "3476451FD40000000000162E" // urn:epc:id:giai:9521141.5678
	giai202  = "3876451FD59B2C2BF10000000000000000000000000000000000"
	sscc96   = "311BA1B300CE0A6A83000000" // urn:epc:id:sscc:952012.03456789123, filter 0
	foreign  = "E28011606000020D8F3A1B2C" // does not decode
	gid96    = "3500E86F8000A9E000000586" // urn:epc:id:gid:952056.2718.1414
	badSGTIN = "307C257BF7194E4000001A85" // SGTIN header, partition 7: does not decode
)

func TestPatternMatch(t *testing.T) {
	all := []string{sgtin96, giai96, giai202, sscc96, foreign, gid96, badSGTIN}
	cases := []struct {
		pat   string
		match []string
	}{
		{"sgtin", []string{sgtin96}},
		{"giai", []string{giai96, giai202}},
		{"raw", []string{foreign, badSGTIN}},
		{"gid", []string{gid96}},
		{"urn:epc:id:giai:9521141.*", []string{giai96, giai202}},
		{"urn:epc:id:giai:9521141.5678", []string{giai96}},
		{"urn:epc:id:giai:9521141.32a%2Fb", []string{giai202}},
		{"urn:epc:id:giai:952114*", []string{giai96, giai202}},
		{"urn:epc:id:sgtin:0614141.812345.*", []string{sgtin96}},
		{"urn:epc:id:sgtin:0614141.*", []string{sgtin96}},
		{"urn:epc:id:sgtin:0614141.812346.*", nil},
		{"urn:epc:id:sgtin:*.6789", []string{sgtin96}},
		{"urn:epc:idpat:sgtin:0614141.*.*", []string{sgtin96}},
		{"urn:epc:idpat:sgtin:*.*.6789", []string{sgtin96}},
		{"urn:epc:idpat:sgtin:*.*.678", nil},
		{"urn:epc:idpat:giai:9521141.*", []string{giai96, giai202}},
		{"urn:epc:tag:sgtin-96:3.*", []string{sgtin96}},
		{"urn:epc:tag:sgtin-96:1.*", nil},
		{"urn:epc:tag:sscc-96:0.952012.*", []string{sscc96}},
		{"urn:epc:tag:giai-202:*", []string{giai202}},
		{"urn:epc:id:gid:952056.*", []string{gid96}},
		{"E280", []string{foreign}},
		{"e2801160*", []string{foreign}},
		{"30", []string{sgtin96, badSGTIN}},
		{"3", []string{sgtin96, giai96, giai202, sscc96, gid96, badSGTIN}},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.pat)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", c.pat, err)
			continue
		}
		var got []string
		for _, h := range all {
			e, err := Decode(h)
			if p.Match(h, &e, err == nil) {
				got = append(got, h)
			}
		}
		if !slices.Equal(got, c.match) {
			t.Errorf("%q matches %v, want %v", c.pat, got, c.match)
		}
	}
}

// TestPatternNeverMatches: patterns that can never match are errors that say
// why.
func TestPatternNeverMatches(t *testing.T) {
	for _, c := range []struct{ pat, why string }{
		{"", "empty"},
		{"sgtn", "none of"},
		{"urn:epc:id:cpi:0614141.*", "not one rfidgw decodes"},
		{"urn:epc:id:gian:0614141.*", "not one rfidgw decodes"},
		{"urn:epc:id:giai:06141411234567.*", "Company Prefix"},
		{"urn:epc:id:giai:06x4141.*", "Company Prefix"},
		{"urn:epc:id:sgtin:0614141.81234.6789", "want 6 digits"},
		{"urn:epc:id:sgtin:0614141.8123456*", "want 6 digits"},
		{"urn:epc:id:gid:1.2.3.*", "components"},
		{"urn:epc:id:sscc:0614141.*.*", "components"},
		{"urn:epc:id:giai:0614141.a/b", "not allowed"},
		{"urn:epc:id:giai:0614141.%41*", "escapes"},
		{"urn:epc:id:gid:0952056.*", "leading zeros"},
		{"urn:epc:id:gid:999999999.*", "more than"},
		{"urn:epc:idpat:sgtin:0614141.*", "components"},
		{"urn:epc:idpat:sgtin:0614141.8*.*", "whole component"},
		{"urn:epc:idpat:sgtin:0614141.12.*", "want 6 digits"},
		{"urn:epc:idpat:sgtin:*.12345678.*", "at most 7 digits"},
		{"urn:epc:tag:sgtin-64:3.*", "not one rfidgw decodes"},
		{"urn:epc:tag:sgtin-96:8.*", "filter value"},
		{"urn:epc:tag:sgtin-96:35.*", "filter value"},
		{"urn:epc:tag:sgtin-*:3.*", "in full"},
		{strings.Repeat("E2", 63), "longer than an EPC"},
		{strings.Repeat("x", 300), "longer than"},
	} {
		_, err := ParsePattern(c.pat)
		if !errors.Is(err, ErrPattern) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("ParsePattern(%.50q) = %v, want ErrPattern saying %q", c.pat, err, c.why)
		}
	}
}

func TestFilter(t *testing.T) {
	f, err := NewFilter([]string{"giai", "urn:epc:id:sgtin:0614141.*"}, []string{"urn:epc:id:giai:9521141.32a%2Fb"})
	if err != nil {
		t.Fatal(err)
	}
	for hex, want := range map[string]bool{sgtin96: true, giai96: true, giai202: false, sscc96: false, foreign: false} {
		for range 2 { // second time from the cache
			if got := f.Allows(hex); got != want {
				t.Errorf("Allows(%s) = %v, want %v", hex, got, want)
			}
		}
	}
	var nilFilter *Filter
	if !nilFilter.Allows(foreign) {
		t.Error("a nil filter must allow everything")
	}
	if f, err := NewFilter(nil, nil); f != nil || err != nil {
		t.Errorf("empty lists: %v %v", f, err)
	}
	_, err = NewFilter([]string{"giai", "bogus"}, []string{"urn:epc:id:nope:1"})
	if err == nil || !strings.Contains(err.Error(), "accept[1]") || !strings.Contains(err.Error(), "ignore[0]") {
		t.Errorf("bad lists: %v", err)
	}
	// Ignore only: everything else passes.
	f, _ = NewFilter(nil, []string{"raw"})
	if f.Allows(foreign) || !f.Allows(sgtin96) {
		t.Error("ignore raw")
	}
}

func TestFilterConcurrentAndBounded(t *testing.T) {
	f, _ := NewFilter([]string{"E2*"}, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40000 {
				h := fmt.Sprintf("E2%06X%02X", i, g)
				if !f.Allows(h) {
					t.Errorf("Allows(%s) = false", h)
					return
				}
			}
		}()
	}
	wg.Wait()
	f.mu.Lock()
	n := len(f.cache)
	f.mu.Unlock()
	if n > cacheMax {
		t.Errorf("cache grew to %d entries, bound %d", n, cacheMax)
	}
}

func TestUnreachable(t *testing.T) {
	gw, _ := NewFilter([]string{"giai", "sgtin"}, []string{"raw"})
	zone, _ := NewFilter([]string{"urn:epc:id:giai:9521141.*", "sscc", "urn:epc:tag:sgtin-96:3.*", "E2", "3"}, nil)
	if got := Unreachable(gw, zone); !slices.Equal(got, []string{"sscc", "E2"}) {
		t.Errorf("Unreachable = %v, want [sscc E2]", got)
	}
	gw2, _ := NewFilter(nil, []string{"giai"})
	if got := Unreachable(gw2, zone); !slices.Equal(got, []string{"urn:epc:id:giai:9521141.*"}) {
		t.Errorf("Unreachable = %v", got)
	}
	if Unreachable(nil, zone) != nil || Unreachable(gw, nil) != nil {
		t.Error("nil filters")
	}
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		want   bool
	}{
		{"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "abc", true}, {"a*d", "abc", false},
		{"*", "", true}, {"a", "ab", false}, {"a*b*c", "aXbYc", true}, {"a*b*c", "aXcYb", false},
		{"**", "x", true},
	} {
		if got := globMatch(c.pat, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.pat, c.s, got)
		}
	}
}
