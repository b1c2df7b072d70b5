package zonepage

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzRequest sends arbitrary paths and queries: the handler must answer
// every one without panicking, never with a 5xx, and never echo input as
// HTML.
func FuzzRequest(f *testing.F) {
	for _, seed := range [][2]string{
		{"/", ""}, {"/", "token=abc"}, {"/api/zones", "epc=8f3a"}, {"/api/zones", "epc=<script>"},
		{"/api/tag/E28011606000020D8F3A1B2C", ""}, {"/api/tag/%3Cimg%3E", ""}, {"/api/events", "limit=-1"},
		{"/api/events", "limit=99999999999999999999"}, {"/static/app.js", ""}, {"/static/../page.html", ""},
		{"/api/uplink", "x=%zz"}, {"/api/readers", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	m := newFakeModel()
	h := Handler(m, quietOpts())
	f.Fuzz(func(t *testing.T, path, query string) {
		if path == "/api/stream" || strings.HasPrefix(path, "/api/stream") {
			return // a stream does not end by itself; stream_test covers it
		}
		req := &http.Request{Method: "GET", URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{}, Host: "x"}
		req = req.WithContext(t.Context())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Errorf("GET %q ?%q = %d %s", path, query, rec.Code, rec.Body.String())
		}
		if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(ct, "text/html") && rec.Code == 200 && path != "/" {
			t.Errorf("GET %q answered HTML; only the page itself is HTML", path)
		}
	})
}

// FuzzParseFilter: any input gives an upper-case hex string or an error.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "8f3a", " E280 ", "<", strings.Repeat("A", 200), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseFilter(in)
		if err != nil {
			return
		}
		for i := 0; i < len(got); i++ {
			c := got[i]
			if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
				t.Fatalf("parseFilter(%q) = %q", in, got)
			}
		}
	})
}
