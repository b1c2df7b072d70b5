package zonepage

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func quietOpts() Options {
	return Options{Logger: slog.New(slog.DiscardHandler)}
}

// get serves one request through h and returns the recorder.
func get(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %q: %v", rec.Body.String(), err)
	}
	return v
}

func TestPageAndAssetsAreEmbedded(t *testing.T) {
	h := Handler(newFakeModel(), quietOpts())
	rec := get(t, h, "GET", "/")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	for _, want := range []string{`href="static/app.css"`, `src="static/app.js"`, `id="zones"`, `id="epc-filter"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("page refers to an external URL; it must work offline")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	for _, a := range []struct{ path, ctype string }{{"/static/app.js", "text/javascript"}, {"/static/app.css", "text/css"}} {
		rec := get(t, h, "GET", a.path)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), a.ctype) || rec.Body.Len() < 1000 {
			t.Errorf("GET %s = %d %q, %d bytes", a.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
		}
		if strings.Contains(rec.Body.String(), "https://") {
			t.Errorf("%s refers to an external URL", a.path)
		}
	}
	if rec := get(t, h, "GET", "/static/nope.js"); rec.Code != 404 {
		t.Errorf("GET /static/nope.js = %d, want 404", rec.Code)
	}
	if rec := get(t, h, "GET", "/static/"); rec.Code != 404 {
		t.Errorf("GET /static/ = %d, want 404 (no listing)", rec.Code)
	}
	if rec := get(t, h, "GET", "/nope"); rec.Code != 404 {
		t.Errorf("GET /nope = %d, want 404", rec.Code)
	}
}

func TestPagePassesTokenToAssetsEscaped(t *testing.T) {
	h := Handler(newFakeModel(), quietOpts())
	rec := get(t, h, "GET", "/?token="+url.QueryEscape(`a"b<c>&d`))
	body := rec.Body.String()
	if !strings.Contains(body, `static/app.js?token=a%22b%3cc%3e%26d"`) && !strings.Contains(body, `static/app.js?token=a%22b%3Cc%3E%26d"`) {
		t.Errorf("token not passed on escaped; page:\n%s", body)
	}
	if strings.Contains(body, `a"b`) || strings.Contains(body, "<c>") {
		t.Errorf("raw token in page:\n%s", body)
	}
}

func TestReadOnly(t *testing.T) {
	m := newFakeModel()
	h := Handler(m, quietOpts())
	paths := []string{"/", "/static/app.js", "/api/readers", "/api/zones", "/api/tag/E28011606000020D8F3A1B2C", "/api/events", "/api/uplink", "/api/stream"}
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		for _, p := range paths {
			rec := get(t, h, method, p)
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d, want 405", method, p, rec.Code)
			}
			if rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: Allow = %q", method, p, rec.Header().Get("Allow"))
			}
		}
	}
	if n := m.modelCalls() + m.tagCalls.Load(); n != 0 {
		t.Errorf("refused requests called the model %d times", n)
	}
	if rec := get(t, h, "HEAD", "/api/readers"); rec.Code != 200 {
		t.Errorf("HEAD /api/readers = %d", rec.Code)
	}
}

func TestAPIReadersShape(t *testing.T) {
	h := Handler(newFakeModel(), quietOpts())
	rec := get(t, h, "GET", "/api/readers")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/readers = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	rs := decode[[]map[string]any](t, rec)
	if len(rs) != 2 {
		t.Fatalf("%d readers, want 2", len(rs))
	}
	r := rs[1]
	if r["id"] != "rack-row-a" || r["type"] != "serial" || r["connected"] != true || r["reads_per_sec"] != 12.5 {
		t.Errorf("reader = %v", r)
	}
	ants, _ := r["antennas"].([]any)
	if len(ants) != 2 {
		t.Fatalf("antennas = %v", r["antennas"])
	}
	a := ants[1].(map[string]any)
	if a["antenna"] != 2.0 || a["reads_per_sec"] != 6.5 || a["zones"].([]any)[0] != "rack-A02" {
		t.Errorf("antenna = %v", a)
	}
}

func TestAPIZonesFilterAndShape(t *testing.T) {
	h := Handler(newFakeModel(), quietOpts())
	type zones struct {
		Filter    string `json:"filter"`
		TagsTotal int    `json:"tags_total"`
		TagsSent  int    `json:"tags_sent"`
		Zones     []struct {
			ID    string    `json:"id"`
			Kind  string    `json:"kind"`
			Room  string    `json:"room"`
			Total int       `json:"total"`
			More  int       `json:"more"`
			Tags  []ZoneTag `json:"tags"`
		} `json:"zones"`
	}
	all := decode[zones](t, get(t, h, "GET", "/api/zones"))
	if all.TagsTotal != 2 || all.TagsSent != 2 || len(all.Zones) != 3 {
		t.Fatalf("unfiltered: %+v", all)
	}
	a01 := all.Zones[1]
	if a01.ID != "rack-A01" || a01.Kind != "rack" || a01.Room != "3.1" || a01.Total != 2 || len(a01.Tags) != 2 || !a01.Tags[0].Settled || a01.Tags[0].RSSI != -48.5 {
		t.Errorf("rack-A01 = %+v", a01)
	}
	if a01.Tags[0].RSSI < a01.Tags[1].RSSI {
		t.Errorf("tags not strongest first: %+v", a01.Tags)
	}
	// Lower case matches: EPCs are upper-case hex.
	f := decode[zones](t, get(t, h, "GET", "/api/zones?epc=beef"))
	if f.Filter != "BEEF" || f.TagsTotal != 1 || f.Zones[1].Total != 1 || len(f.Zones[1].Tags) != 1 || f.Zones[1].Tags[0].EPC != "E2801160600002000000BEEF" {
		t.Errorf("filtered: %+v", f)
	}
	if f.Zones[0].Tags == nil || len(f.Zones[0].Tags) != 0 {
		t.Errorf("empty zone's tags should be [], got %v", f.Zones[0].Tags)
	}
	for _, bad := range []string{"XYZ", "8F3A<script>", strings.Repeat("A", 129)} {
		rec := get(t, h, "GET", "/api/zones?epc="+url.QueryEscape(bad))
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), "epc") {
			t.Errorf("epc=%q: %d %s", bad, rec.Code, rec.Body.String())
		}
	}
}

func TestAPITag(t *testing.T) {
	m := newFakeModel()
	m.tags["E28011606000020D8F3A1B2C"] = func() TagDetail {
		d := m.tags["E28011606000020D8F3A1B2C"]
		d.Events = append(d.Events, json.RawMessage(`{"broken`))
		return d
	}()
	h := Handler(m, quietOpts())
	rec := get(t, h, "GET", "/api/tag/e28011606000020d8f3a1b2c")
	if rec.Code != 200 {
		t.Fatalf("GET tag = %d %s", rec.Code, rec.Body.String())
	}
	d := decode[map[string]any](t, rec)
	if d["epc"] != "E28011606000020D8F3A1B2C" || d["zone"] != "rack-A01" || d["at"] == nil {
		t.Errorf("tag = %v", d)
	}
	reads := d["reads"].([]any)
	if len(reads) != 2 || reads[0].(map[string]any)["reader"] != "rack-row-a" || reads[0].(map[string]any)["rssi"] != -49.0 {
		t.Errorf("reads = %v", reads)
	}
	if evs := d["events"].([]any); len(evs) != 1 {
		t.Errorf("events = %v (the broken one must be left out)", evs)
	}
	if zs := d["zones"].([]any); len(zs) != 1 || zs[0].(map[string]any)["present"] != true {
		t.Errorf("zones = %v", zs)
	}
	if rec := get(t, h, "GET", "/api/tag/E2801160600002000000AAAA"); rec.Code != 404 || !strings.Contains(rec.Body.String(), "E2801160600002000000AAAA") {
		t.Errorf("unknown tag: %d %s", rec.Code, rec.Body.String())
	}
	for _, bad := range []string{"/api/tag/nothex", "/api/tag/%3Cimg%3E", "/api/tag/%20"} {
		if rec := get(t, h, "GET", bad); rec.Code != 400 {
			t.Errorf("GET %s = %d %s, want 400", bad, rec.Code, rec.Body.String())
		}
	}
}

func TestAPIEventsAndUplink(t *testing.T) {
	m := newFakeModel()
	m.events = []json.RawMessage{
		json.RawMessage(eventJSON(3, "rack_move", "E2801160600002000000BEEF", "rack-A01", "rack-A02")),
		json.RawMessage("not json"),
		json.RawMessage(" {\n \"id\": \"floor3-2\" }"),
		json.RawMessage(eventJSON(1, "rack_move", "E28011606000020D8F3A1B2C", "", "rack-A01")),
	}
	h := Handler(m, quietOpts())
	evs := decode[[]map[string]any](t, get(t, h, "GET", "/api/events"))
	if len(evs) != 3 || evs[0]["id"] != "floor3-3" || evs[1]["id"] != "floor3-2" || evs[2]["id"] != "floor3-1" {
		t.Errorf("events = %v", evs)
	}
	if evs := decode[[]map[string]any](t, get(t, h, "GET", "/api/events?limit=1")); len(evs) != 1 || evs[0]["seq"] != 3.0 {
		t.Errorf("limit=1: %v", evs)
	}
	for _, bad := range []string{"0", "-1", "x"} {
		if rec := get(t, h, "GET", "/api/events?limit="+bad); rec.Code != 400 || !strings.Contains(rec.Body.String(), "limit") {
			t.Errorf("limit=%s: %d %s", bad, rec.Code, rec.Body.String())
		}
	}
	up := decode[map[string]any](t, get(t, h, "GET", "/api/uplink"))
	if up["pending"] != 3.0 || up["bytes"] != 1200.0 || up["lag_seconds"] != 1.5 || up["kafka_connected"] != true || up["delivered"] != 40.0 {
		t.Errorf("uplink = %v", up)
	}
}

func TestSnapshotSharedAcrossRequests(t *testing.T) {
	m := newFakeModel()
	clk := &fakeClock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	opts := quietOpts()
	opts.Now = clk.Now
	h := Handler(m, opts)
	for range 50 {
		for _, p := range []string{"/api/readers", "/api/zones", "/api/events", "/api/uplink", "/api/zones?epc=BEEF"} {
			if rec := get(t, h, "GET", p); rec.Code != 200 {
				t.Fatalf("GET %s = %d", p, rec.Code)
			}
		}
	}
	if m.zonesCalls.Load() != 1 || m.readersCalls.Load() != 1 || m.eventsCalls.Load() != 1 || m.uplinkCalls.Load() != 1 {
		t.Errorf("250 requests in one interval: model calls readers=%d zones=%d events=%d uplink=%d, want 1 each",
			m.readersCalls.Load(), m.zonesCalls.Load(), m.eventsCalls.Load(), m.uplinkCalls.Load())
	}
	clk.Advance(500 * time.Millisecond)
	get(t, h, "GET", "/api/zones")
	if m.zonesCalls.Load() != 2 {
		t.Errorf("after one interval: zones calls = %d, want 2", m.zonesCalls.Load())
	}
}

func TestTagLookupsCachedAndLimited(t *testing.T) {
	m := newFakeModel()
	clk := &fakeClock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	opts := quietOpts()
	opts.Now = clk.Now
	opts.TagLookupsPerSec = 5
	h := Handler(m, opts)
	for range 20 {
		if rec := get(t, h, "GET", "/api/tag/E28011606000020D8F3A1B2C"); rec.Code != 200 {
			t.Fatalf("cached tag: %d", rec.Code)
		}
	}
	if n := m.tagCalls.Load(); n != 1 {
		t.Errorf("20 lookups of one tag in one interval: %d model calls, want 1", n)
	}
	codes := map[int]int{}
	for i := range 20 {
		codes[get(t, h, "GET", "/api/tag/E28011606000020D8F3A1B"+string("0123456789ABCDEF"[i%16])+string("0123456789ABCDEF"[i/16])).Code]++
	}
	if n := m.tagCalls.Load(); n != 5 {
		t.Errorf("model Tag calls = %d, want 5 (the bucket)", n)
	}
	if codes[http.StatusTooManyRequests] != 16 || codes[http.StatusNotFound] != 4 {
		t.Errorf("answers = %v, want 4x404 then 16x429", codes)
	}
	clk.Advance(time.Second)
	if rec := get(t, h, "GET", "/api/tag/E2801160600002000000FFFF"); rec.Code != 404 {
		t.Errorf("after a second the bucket refills: %d", rec.Code)
	}
}

func TestCutZonesCaps(t *testing.T) {
	zones := manyTags(10_000, 20)
	out, matched, sent := cutZones(zones, "", 25, 300)
	if matched != 10_000 || sent != 300 {
		t.Errorf("matched %d sent %d, want 10000 and 300", matched, sent)
	}
	sum := 0
	for i, z := range out {
		if len(z.Tags) > 25 || z.Total != 500 || z.More != z.Total-len(z.Tags) {
			t.Errorf("zone %d: %d tags, total %d, more %d", i, len(z.Tags), z.Total, z.More)
		}
		sum += len(z.Tags)
		if i < 12 && len(z.Tags) != 25 || i == 12 && len(z.Tags) != 0 {
			t.Errorf("zone %d got %d tags; the budget goes to zones in order", i, len(z.Tags))
		}
	}
	if sum != sent {
		t.Errorf("sum %d != sent %d", sum, sent)
	}
	// The cut equals the head of a full sort, for every zone that got tags.
	for zi, z := range out {
		ref := slices.Clone(zones[zi].Tags)
		slices.SortFunc(ref, func(a, b ZoneTag) int { return strongerTag(&a, &b) })
		if !slices.Equal(z.Tags, ref[:len(z.Tags)]) {
			t.Errorf("zone %d: cut %v, want %v", zi, z.Tags[:3], ref[:3])
		}
	}
	if out[0].Tags[0].RSSI != -40 || out[0].Tags[0].Reads != 9 {
		t.Errorf("strongest first: %+v", out[0].Tags[0])
	}
}

func TestParseFilter(t *testing.T) {
	for in, want := range map[string]string{"": "", " 8f3a ": "8F3A", "E28011606000020D8F3A1B2C": "E28011606000020D8F3A1B2C"} {
		if got, err := parseFilter(in); err != nil || got != want {
			t.Errorf("parseFilter(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"G", "8F 3A", "<", "é"} {
		if _, err := parseFilter(in); err == nil {
			t.Errorf("parseFilter(%q): no error", in)
		}
	}
}

func TestBadModelEventLoggedOnce(t *testing.T) {
	m := newFakeModel()
	m.events = []json.RawMessage{json.RawMessage("{")}
	var logs strings.Builder
	opts := Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Interval: time.Nanosecond}
	h := Handler(m, opts)
	for range 5 {
		rec := get(t, h, "GET", "/api/events")
		if b, _ := io.ReadAll(rec.Body); strings.TrimSpace(string(b)) != "[]" {
			t.Errorf("events = %s", b)
		}
	}
	if n := strings.Count(logs.String(), "bad event JSON from model"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
}
