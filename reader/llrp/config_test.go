package llrp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// TestNewErrorsNameTheKey: New's errors carry the entry key they are
// about, so `rfidgw check` prints readers[i].key: message.
func TestNewErrorsNameTheKey(t *testing.T) {
	for key, c := range map[string]reader.Config{
		"address":      {ID: "r", Settings: &Settings{Address: "10.0.0.1:99999"}},
		"keepalive":    {ID: "r", Settings: &Settings{Address: "10.0.0.1:5084", Keepalive: time.Millisecond}},
		"antennas[1]":  {ID: "r", Antennas: []int{1, 0}, Settings: &Settings{Address: "10.0.0.1:5084"}},
		"tls.cert":     {ID: "r", Settings: &Settings{Address: "10.0.0.1", TLS: &reader.TLS{Cert: "c.pem"}}},
		"tls.ca":       {ID: "r", Settings: &Settings{Address: "10.0.0.1", TLS: &reader.TLS{CA: "/nonexistent/ca.pem"}}},
		"report_tags":  {ID: "r", Settings: &Settings{Address: "10.0.0.1", ReportTags: 70000}},
		"report_every": {ID: "r", Settings: &Settings{Address: "10.0.0.1", ReportEvery: time.Millisecond}},
	} {
		_, err := New(c, reader.Env{})
		var ke *keyed.Error
		if !errors.As(err, &ke) || ke.Key != key || strings.Contains(ke.Msg, `reader "r"`) {
			t.Errorf("%s: %v carries %+v, want key %s", key, err, ke, key)
		}
	}
}

// The report settings reach the ROSpec's ROReportSpec: by count (the
// default, one tag per report) or by time; both at once is refused.
func TestReportSettingsMakeTheROSpec(t *testing.T) {
	for _, c := range []struct {
		set     Settings
		trigger uint8
		n       uint16
	}{
		{Settings{Address: "10.0.0.1"}, ReportNTagsOrEndOfAISpec, 1},
		{Settings{Address: "10.0.0.1", ReportTags: 1}, ReportNTagsOrEndOfAISpec, 1},
		{Settings{Address: "10.0.0.1", ReportTags: 50}, ReportNTagsOrEndOfAISpec, 50},
		{Settings{Address: "10.0.0.1", ReportEvery: 250 * time.Millisecond}, ReportNMillisOrEndOfAI, 250},
	} {
		s, err := New(reader.Config{ID: "r", Settings: &c.set}, reader.Env{})
		if err != nil {
			t.Fatal(err)
		}
		ro := s.rospec()
		if !ro.HasReportSpec || ro.ReportTrigger != c.trigger || ro.ReportN != c.n {
			t.Errorf("%+v: ROReportSpec %d/%d, want %d/%d", c.set, ro.ReportTrigger, ro.ReportN, c.trigger, c.n)
		}
	}
	set := Settings{Address: "10.0.0.1", ReportTags: 10, ReportEvery: time.Second}
	errs := set.Validate(&reader.Config{ID: "r"})
	var ke *keyed.Error
	if len(errs) != 1 || !errors.As(errs[0], &ke) || ke.Key != "report_every" || !strings.Contains(ke.Msg, "exclude") {
		t.Errorf("report_tags with report_every: %v", errs)
	}
}
