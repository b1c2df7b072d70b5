package config

import (
	"regexp"
	"strings"
	"testing"
)

const fixesBase = `gateway: {id: floor3, data_dir: ./data}
readers:
  - id: r1
    type: llrp
    address: 127.0.0.1:5084
zones:
  - {id: rack-A01, kind: rack, antennas: [{reader: r1, antennas: [1]}]}
uplink: {kafka: {brokers: [127.0.0.1:9092]}}
`

// Mistakes a new user makes, each reported with its key, its line and the
// fix (issue 22): a duration without a unit (60 would be 60 ns), zero where
// zero makes no sense, a misspelt key or environment variable.
func TestProblemsSayTheFix(t *testing.T) {
	example := regexp.QuoteMeta("(every key is in " + exampleConfig() + ")")
	for _, c := range []struct {
		name string
		body string
		env  map[string]string
		want []string // regexps, each must match a line
	}{
		{"duration without unit", fixesBase + "edge:\n  lost_after: 60\n", nil,
			[]string{`\.yaml:10: edge\.lost_after: 60 has no unit: write 60s for 60 seconds \(units: ms, s, m, h\)$`}},
		{"fraction without unit", fixesBase + "edge:\n  dwell: 2.5\n", nil,
			[]string{`\.yaml:10: edge\.dwell: 2\.5 has no unit: write 2\.5s`}},
		{"zone override without unit", strings.Replace(fixesBase, "antennas: [1]}]}", "antennas: [1]}], dwell: 9}", 1), nil,
			[]string{`\.yaml:7: zones\[0\]\.dwell: 9 has no unit: write 9s`}},
		{"same from the environment", fixesBase, map[string]string{"RFIDGW_EDGE_LOST_AFTER": "60"},
			[]string{`\.yaml: edge\.lost_after: 60 has no unit: write 60s`}},
		{"zero dwell", fixesBase + "edge:\n  dwell: 0\n", nil,
			[]string{`\.yaml:10: edge\.dwell: 0s would move a tag on its first stronger read: set e.g\. 5s \(the default\)`}},
		{"zero heartbeat", strings.Replace(fixesBase, "[127.0.0.1:9092]}", "[127.0.0.1:9092], heartbeat: 0s}", 1), nil,
			[]string{`\.yaml:8: uplink\.kafka\.heartbeat: 0s is outside 1s\.\.1h0m0s .*set e\.g\. 30s`}},
		// Issue 15: values that passed and then flooded or ran out of memory.
		{"nanosecond heartbeat", strings.Replace(fixesBase, "[127.0.0.1:9092]}", "[127.0.0.1:9092], heartbeat: 1ns}", 1), nil,
			[]string{`uplink\.kafka\.heartbeat: 1ns is outside 1s\.\.1h0m0s`}},
		{"huge max_in_flight", strings.Replace(fixesBase, "[127.0.0.1:9092]}", "[127.0.0.1:9092], max_in_flight: 1000000000}", 1), nil,
			[]string{`uplink\.kafka\.max_in_flight: 1000000000 is outside 1\.\.1000000`}},
		{"huge lost_after", fixesBase + "edge:\n  lost_after: 2000000h\n", nil,
			[]string{`edge\.lost_after: 2000000h0m0s is above the maximum 168h0m0s`}},
		{"misspelt section", fixesBase + "edge:\n  dwel: 5s\n", nil,
			[]string{`\.yaml:10: edge\.dwel: unknown key; did you mean dwell\? ` + example + `$`}},
		{"misspelt nested key", strings.Replace(fixesBase, "uplink: {kafka:", "uplink: {kafak:", 1), nil,
			[]string{`\.yaml:8: uplink\.kafak: unknown key; did you mean kafka\? ` + example}},
		{"misspelt reader key", strings.Replace(fixesBase, "    address:", "    adress:", 1), nil,
			[]string{`\.yaml:5: readers\[0\]\.adress: unknown key for type llrp; did you mean address\? ` + example}},
		{"nothing close", fixesBase + "colour: blue\n", nil,
			[]string{`\.yaml:9: colour: unknown key ` + example + `$`}},
		{"misspelt environment variable", fixesBase, map[string]string{"RFIDGW_EDGE_DWEL": "5s"},
			[]string{`\.yaml: RFIDGW_EDGE_DWEL: unknown environment variable: no config key reads it; did you mean RFIDGW_EDGE_DWELL\?$`}},
		{"environment variable of a section", fixesBase, map[string]string{"RFIDGW_EDGE_TOTALLY_NEW": "1"},
			[]string{`RFIDGW_EDGE_TOTALLY_NEW: unknown environment variable: no config key reads it$`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			got := problems(t, c.body)
			for _, w := range c.want {
				re := regexp.MustCompile(`(?m)` + w)
				if !re.MatchString(got) {
					t.Errorf("no line matching /%s/ in:\n%s", w, got)
				}
			}
		})
	}
}

// Variables of tools and tests (RFIDGW_BIN, RFIDGW_CHROMIUM) are not the
// config's and are left alone; a correct config with them loads.
func TestToolEnvironmentIgnored(t *testing.T) {
	t.Setenv("RFIDGW_BIN", "/tmp/rfidgw")
	t.Setenv("RFIDGW_CHROMIUM", "/usr/bin/chromium")
	t.Setenv("RFIDGW_EDGE_DWELL", "7s")
	c, err := Load(write(t, fixesBase))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(ScopeAll); err != nil {
		t.Fatal(err)
	}
	if c.Edge.Dwell.String() != "7s" {
		t.Errorf("RFIDGW_EDGE_DWELL not applied: %v", c.Edge.Dwell)
	}
}
