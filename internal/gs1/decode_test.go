package gs1

import (
	"errors"
	"strings"
	"testing"
)

// tdsExamples are the standard's own examples: TDS 2.x Annex E.2 (the worked
// SGTIN-96 decoding) and Annex E.3 "Summary examples of all EPC schemes"
// (TDS 2.3, one table per scheme: element string, EPC URI, tag URI, binary
// encoding in hex). The E.3 rows were cross-checked against three public
// test suites that quote them (dannyhaak/TagDataTranslation TDS23Tests.cs,
// whose author contributes to the TDS; the Odoo GS1 nomenclature tests;
// pedrozc90/epcs). One correction applies: the E.3 SGTIN-96 table prints the
// EPC URI serial as 1234567896789 while its element string and hex say
// 123456789 (erratum documented in TagDataTranslation docs/TDS-2.3-Errata.md).
var tdsExamples = []struct {
	hex, uri, tag, key string
	filter             int
}{
	// Annex E.2
	{"3074257BF7194E4000001A85", "urn:epc:id:sgtin:0614141.812345.6789", "urn:epc:tag:sgtin-96:3.0614141.812345.6789", "(01)80614141123458(21)6789", 3},
	// Annex E.3
	{"3066C4409047E140075BCD15", "urn:epc:id:sgtin:95060001343.05.123456789", "urn:epc:tag:sgtin-96:3.95060001343.05.123456789", "(01)09506000134352(21)123456789", 3},
	{"3666C4409047E159B2C2BF100000000000000000000000000000", "urn:epc:id:sgtin:95060001343.05.32a%2Fb", "urn:epc:tag:sgtin-198:3.95060001343.05.32a%2Fb", "(01)09506000134352(21)32a/b", 3},
	{"311BA1B300CE0A6A83000000", "urn:epc:id:sscc:952012.03456789123", "urn:epc:tag:sscc-96:0.952012.03456789123", "(00)095201234567891235", 0},
	{"3276451FD46072000000162E", "urn:epc:id:sgln:9521141.12345.5678", "urn:epc:tag:sgln-96:3.9521141.12345.5678", "(414)9521141123454(254)5678", 3},
	{"3976451FD46072CD9615F8800000000000000000000000000000", "urn:epc:id:sgln:9521141.12345.32a%2Fb", "urn:epc:tag:sgln-195:3.9521141.12345.32a%2Fb", "(414)9521141123454(254)32a/b", 3},
	{"3376451FD40C0E400000162E", "urn:epc:id:grai:9521141.12345.5678", "urn:epc:tag:grai-96:3.9521141.12345.5678", "(8003)095211411234545678", 3},
	{"3776451FD40C0E59B2C2BF1000000000000000000000", "urn:epc:id:grai:9521141.12345.32a%2Fb", "urn:epc:tag:grai-170:3.9521141.12345.32a%2Fb", "(8003)0952114112345432a/b", 3},
	{"3476451FD40000000000162E", "urn:epc:id:giai:9521141.5678", "urn:epc:tag:giai-96:3.9521141.5678", "(8004)95211415678", 3},
	{"3876451FD59B2C2BF10000000000000000000000000000000000", "urn:epc:id:giai:9521141.32a%2Fb", "urn:epc:tag:giai-202:3.9521141.32a%2Fb", "(8004)952114132a/b", 3},
	{"2D76451FD4499602D2000000", "urn:epc:id:gsrn:9521141.1234567890", "urn:epc:tag:gsrn-96:3.9521141.1234567890", "(8018)952114112345678906", 3},
	{"2E76451FD4499602D2000000", "urn:epc:id:gsrnp:9521141.1234567890", "urn:epc:tag:gsrnp-96:3.9521141.1234567890", "(8017)952114112345678906", 3},
	{"2C76451FD46072000000162E", "urn:epc:id:gdti:9521141.12345.5678", "urn:epc:tag:gdti-96:3.9521141.12345.5678", "(253)95211411234545678", 3},
	{"3E76451FD7039B061438997367D0C18B266D1AB66EE0", "urn:epc:id:gdti:9521141.98765.ABCDefgh012345678", "urn:epc:tag:gdti-174:3.9521141.98765.ABCDefgh012345678", "(253)9521141987650ABCDefgh012345678", 3},
	{"3500E86F8000A9E000000586", "urn:epc:id:gid:952056.2718.1414", "urn:epc:tag:gid-96:952056.2718.1414", "", -1},
}

func TestDecodeTDSExamples(t *testing.T) {
	for _, c := range tdsExamples {
		for _, hex := range []string{c.hex, strings.ToLower(c.hex)} {
			e, err := Decode(hex)
			if err != nil {
				t.Errorf("Decode(%s): %v", hex, err)
				continue
			}
			if e.URI != c.uri || e.TagURI != c.tag || e.Key != c.key || e.Filter != c.filter {
				t.Errorf("Decode(%s):\n got %s %s %s filter %d\nwant %s %s %s filter %d", hex, e.URI, e.TagURI, e.Key, e.Filter, c.uri, c.tag, c.key, c.filter)
			}
			if !strings.HasPrefix(e.TagURI, "urn:epc:tag:"+e.Encoding+":") || !strings.HasPrefix(e.URI, "urn:epc:id:"+e.Scheme+":") {
				t.Errorf("Decode(%s): scheme %s encoding %s do not fit %s %s", hex, e.Scheme, e.Encoding, e.URI, e.TagURI)
			}
			// The URI must parse back into the fields Decode produced.
			scheme, comps, err := ParseURI(e.URI)
			if err != nil || scheme != e.Scheme || len(comps) != len(e.Fields) {
				t.Errorf("ParseURI(%s) = %s %v %v", e.URI, scheme, comps, err)
			}
		}
	}
}

func TestDecodeFields(t *testing.T) {
	e, err := Decode("3074257BF7194E4000001A85")
	if err != nil {
		t.Fatal(err)
	}
	want := []Field{{"company_prefix", "0614141"}, {"item_reference", "812345"}, {"serial", "6789"}}
	if len(e.Fields) != len(want) {
		t.Fatalf("fields %v", e.Fields)
	}
	for i := range want {
		if e.Fields[i] != want[i] {
			t.Errorf("field %d = %v, want %v", i, e.Fields[i], want[i])
		}
	}
	if e.Scheme != "sgtin" || e.Encoding != "sgtin-96" || FilterName(e.Scheme, e.Filter) != "reserved" {
		t.Errorf("scheme %s encoding %s filter %d %q", e.Scheme, e.Encoding, e.Filter, FilterName(e.Scheme, e.Filter))
	}
	if FilterName("sgtin", 1) != "point of sale (POS) trade item" || FilterName("giai", 0) != "all others" || FilterName("gid", 0) != "" {
		t.Error("filter names")
	}
}

// TestDecodeRejects: every way the bits can break the encoding's rules gives
// ErrMalformed (or ErrNotGS1 for foreign headers), never a wrong URI.
func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		name, hex string
		want      error
	}{
		{"empty", "", ErrMalformed},
		{"not hex", "3074257BF7194E400000ZA85", ErrMalformed},
		{"too long", strings.Repeat("30", 63), ErrMalformed},
		{"truncated sgtin-96", "3074257BF7194E4000001A", ErrMalformed},
		{"truncated sgtin-198", "3666C4409047E159B2C2BF10", ErrMalformed},
		{"partition 7", "307C257BF7194E4000001A85", ErrMalformed},
		// SGTIN-96, partition 5 (7-digit prefix, 24 bits): 0xFFFFFF = 16777215 has 8 digits.
		{"company prefix too big", "3077FFFFFF194E4000001A85", ErrMalformed},
		// SSCC-96 with a non-zero reserved bit.
		{"sscc reserved bits", "311BA1B300CE0A6A83000001", ErrMalformed},
		// SGTIN-198 serial with a control character (0x01) first.
		{"bad character", "3666C4409047E1408000000000000000000000000000000000", ErrMalformed},
		// SGTIN-198 serial empty (all zero).
		{"empty string", "3666C4409047E1400000000000000000000000000000000000", ErrMalformed},
		// SGTIN-198 serial "3" then a zero character then a non-zero one.
		{"bits after string end", "3666C4409047E159800100000000000000000000000000000000", ErrMalformed},
		{"E280 chip TID-like EPC", "E28011606000020D8F3A1B2C", ErrNotGS1},
		{"CPI-96 stays raw", "3C76451FD400C0E680003039", ErrNotGS1},
		{"SGTIN+ stays raw", "F73795211411234538566CB0AFC4", ErrNotGS1},
	}
	for _, c := range cases {
		e, err := Decode(c.hex)
		if notHex := c.name == "empty" || c.name == "not hex"; notHex != errors.Is(err, ErrNotHex) {
			t.Errorf("%s: %v: ErrNotHex %v", c.name, err, !notHex)
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Decode(%s) = %+v, %v; want %v", c.name, c.hex, e, err, c.want)
		}
	}
}

func TestRawURI(t *testing.T) {
	for in, want := range map[string]string{
		"E28011606000020D8F3A1B2C": "urn:epc:raw:96.xE28011606000020D8F3A1B2C",
		"e2801160":                 "urn:epc:raw:32.xE2801160",
		"12 34":                    "urn:epc:raw:16.x1234",
		strings.Repeat("AB", 100):  "urn:epc:raw:800.x" + strings.Repeat("AB", 100), // longer than a GS1 EPC: kept whole
	} {
		if got := RawURI(in); got != want {
			t.Errorf("RawURI(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestDigitalLink: the canonical GS1 Digital Link URIs the reference event
// hash implementation produces (its tests/examples/epclist_normalisation
// .prehashes and ReferenceEventHashAlgorithm.prehashes).
func TestDigitalLink(t *testing.T) {
	for in, want := range map[string]string{
		"urn:epc:id:sgtin:4012345.011111.9876":                   "https://id.gs1.org/01/04012345111118/21/9876",
		"urn:epc:id:sgtin:4012345.011111.98%22":                  "https://id.gs1.org/01/04012345111118/21/98%22",
		"urn:epc:id:sgtin:415056789012.0.987654":                 "https://id.gs1.org/01/04150567890128/21/987654",
		"urn:epc:id:sgtin:0614141.812345.6789%2F%26%25%22!%3F()": "https://id.gs1.org/01/80614141123458/21/6789%2F%26%25%22%21%3F%28%29",
		"urn:epc:id:sscc:4012345.3111111111":                     "https://id.gs1.org/00/340123451111111111",
		"urn:epc:id:sscc:4012345.0000000111":                     "https://id.gs1.org/00/040123450000001112",
		"urn:epc:id:sgln:4012345.00005.122":                      "https://id.gs1.org/414/4012345000054/254/122",
		"urn:epc:id:sgln:4012345.00005.0":                        "https://id.gs1.org/414/4012345000054",
		"urn:epc:id:sgln:4012345.00011.987":                      "https://id.gs1.org/414/4012345000115/254/987",
		"urn:epc:id:grai:4012345.00022.334455":                   "https://id.gs1.org/8003/04012345000221334455",
		"urn:epc:id:giai:4012345.ABC345":                         "https://id.gs1.org/8004/4012345ABC345",
		"urn:epc:id:gsrn:4012345.0000006765":                     "https://id.gs1.org/8018/401234500000067657",
		"urn:epc:id:gsrnp:4012345.0000000007":                    "https://id.gs1.org/8017/401234500000000074",
		"urn:epc:id:gdti:4012345.00009.PO-4711":                  "https://id.gs1.org/253/4012345000092PO-4711",
		"https://id.gs1.org/01/70614141123451/21/2018":           "https://id.gs1.org/01/70614141123451/21/2018",
	} {
		got, ok := DigitalLink(in)
		if !ok || got != want {
			t.Errorf("DigitalLink(%s) = %s %v, want %s", in, got, ok, want)
		}
	}
	// '.' is a GS1 character: it may appear unescaped in a serial.
	if got, ok := DigitalLink("urn:epc:id:sgtin:0614141.812345.1.2"); !ok || got != "https://id.gs1.org/01/80614141123458/21/1.2" {
		t.Errorf("serial with a dot: %s %v", got, ok)
	}
	for _, in := range []string{"urn:epc:id:gid:952056.2718.1414", "urn:epc:id:sscc:4012345.3111111111.1", "urn:epc:raw:96.xE28011606000020D8F3A1B2C", "urn:epc:id:sgtin:4012345.11111.9876", "geo:50.9,6.9"} {
		if got, ok := DigitalLink(in); ok {
			t.Errorf("DigitalLink(%s) = %s, want no conversion", in, got)
		}
	}
}
