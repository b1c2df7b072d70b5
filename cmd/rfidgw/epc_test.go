package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/rfidgw/rfidgw/internal/testkit"
)

// TestEPCDecode runs `rfidgw epc decode` on the TDS examples, a foreign tag
// and a bad argument.
func TestEPCDecode(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	out, err := exec.Command(bin, "epc", "decode", "3074257BF7194E4000001A85", "e28011606000020d8f3a1b2c").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"uri       urn:epc:id:sgtin:0614141.812345.6789", "tag uri   urn:epc:tag:sgtin-96:3.0614141.812345.6789",
		"scheme    sgtin (sgtin-96)", "filter    3 (reserved)", "gs1 key   (01)80614141123458(21)6789",
		"company prefix     0614141", "item reference     812345", "serial             6789",
		"E28011606000020D8F3A1B2C\n  uri       urn:epc:raw:96.xE28011606000020D8F3A1B2C\n  scheme    raw",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(bin, "epc", "decode", "--format", "json", "3876451FD59B2C2BF10000000000000000000000000000000000").Output()
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		URI    string            `json:"uri"`
		Scheme string            `json:"scheme"`
		Filter int               `json:"filter"`
		Fields map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(out, &j); err != nil || j.URI != "urn:epc:id:giai:9521141.32a%2Fb" || j.Scheme != "giai" || j.Filter != 3 || j.Fields["asset_reference"] != "32a/b" {
		t.Errorf("json: %+v %v\n%s", j, err, out)
	}
	out, err = exec.Command(bin, "epc", "decode", "3074257BF7194E4000001A85", "not-hex").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "not-hex") || !strings.Contains(string(out), "urn:epc:id:sgtin:0614141.812345.6789") {
		t.Errorf("bad argument: %v\n%s", err, out)
	}
}
