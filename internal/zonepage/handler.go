package zonepage

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed static
var staticFiles embed.FS

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// maxEPCLen bounds EPCs and filters: 496 bits (the largest EPC) is 124 hex.
const maxEPCLen = 128

// Limits on one tag's detail, in case the Model's own bounds are loose.
const (
	maxTagReads  = 2000
	maxTagEvents = 50
)

// Security headers of every answer: everything comes from this handler, and
// nothing from the model may run as script (the page builds its DOM with
// textContent only; this is the second line of defence).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type server struct {
	opts    Options
	log     *slog.Logger
	model   Model
	snaps   *snapshotter
	tags    *tagCache
	streams chan struct{} // semaphore of running streams
	static  http.Handler
}

// Handler serves the zone tuning page and its read-only API (see the package
// comment for the paths) from m. It calls m at most once per opts.Interval
// for readers, zones, uplink and events together, whatever the number of
// clients, and Tag at most opts.TagLookupsPerSec times per second. Methods
// other than GET and HEAD get 405.
func Handler(m Model, opts Options) http.Handler {
	opts = opts.withDefaults()
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	s := &server{
		opts:  opts,
		log:   opts.Logger,
		model: m,
		snaps: &snapshotter{
			model: m, interval: opts.Interval, maxEvents: opts.MaxEvents, now: opts.Now, log: opts.Logger,
		},
		tags:    newTagCache(opts.Interval, opts.TagLookupsPerSec, opts.Now),
		streams: make(chan struct{}, opts.MaxStreams),
		static:  http.StripPrefix("/static/", http.FileServerFS(sub)),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /static/", s.asset)
	mux.HandleFunc("GET /api/readers", s.readers)
	mux.HandleFunc("GET /api/zones", s.zones)
	mux.HandleFunc("GET /api/tag/{epc}", s.tag)
	mux.HandleFunc("GET /api/events", s.events)
	mux.HandleFunc("GET /api/uplink", s.uplink)
	mux.HandleFunc("GET /api/stream", s.stream)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer") // keeps a ?token= out of other sites' logs
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed: the zone page is read-only", r.Method))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// page renders the HTML shell. A ?token= the page was opened with is passed
// on to its asset URLs, since a browser sends no Authorization header for
// <link> and <script>.
func (s *server) page(w http.ResponseWriter, r *http.Request) {
	var q string
	if tok := r.URL.Query().Get("token"); tok != "" {
		q = "?token=" + url.QueryEscape(tok)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	if err := pageTmpl.Execute(w, struct{ Query string }{q}); err != nil {
		s.log.Debug("zonepage: writing page", "err", err)
	}
}

func (s *server) asset(w http.ResponseWriter, r *http.Request) {
	// No directory listings, and no 500 for names the embedded FS rejects
	// (e.g. invalid UTF-8).
	if name := strings.TrimPrefix(r.URL.Path, "/static/"); strings.HasSuffix(name, "/") || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	// Embedded files carry no modification time; no-cache makes the browser
	// revalidate so a new binary's page is never mixed with old assets.
	w.Header().Set("Cache-Control", "no-cache")
	s.static.ServeHTTP(w, r)
}

func (s *server) readers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, nonNil(s.snaps.get().readers))
}

func (s *server) uplink(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.snaps.get().uplink)
}

func (s *server) zones(w http.ResponseWriter, r *http.Request) {
	filter, err := parseFilter(r.URL.Query().Get("epc"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("query parameter epc: %w", err))
		return
	}
	b, err := s.snaps.get().payload(filter, false, s.opts.MaxTagsPerZone, s.opts.MaxTags)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b) // shared with other requests: not appended to
	w.Write([]byte{'\n'})
}

func (s *server) events(w http.ResponseWriter, r *http.Request) {
	limit := s.opts.MaxEvents
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("query parameter limit=%q: %w: want a positive integer (at most %d)", v, ErrBadLimit, s.opts.MaxEvents))
			return
		}
		limit = min(n, s.opts.MaxEvents)
	}
	evs := s.snaps.get().events
	writeJSON(w, evs[:min(limit, len(evs))])
}

func (s *server) tag(w http.ResponseWriter, r *http.Request) {
	epc, err := parseEPC(r.PathValue("epc"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("path /api/tag/{epc}: %w", err))
		return
	}
	d, ok, err := s.tags.get(epc, s.lookupTag)
	switch {
	case errors.Is(err, errTooManyLookups):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, err)
	case !ok:
		writeError(w, http.StatusNotFound, fmt.Errorf("tag %s: not seen recently", epc))
	default:
		writeJSON(w, d)
	}
}

// lookupTag asks the Model for one tag and bounds and cleans the answer.
func (s *server) lookupTag(epc string) (TagDetail, bool) {
	d, ok := s.model.Tag(epc)
	if !ok {
		return TagDetail{}, false
	}
	if len(d.Reads) > maxTagReads {
		d.Reads = d.Reads[len(d.Reads)-maxTagReads:] // oldest first: keep the newest
	}
	d.Reads = nonNil(d.Reads)
	d.Zones = nonNil(d.Zones)
	sanitizeTag(&d)
	if d.At.IsZero() {
		d.At = s.opts.Now().UTC()
	}
	d.Events = s.snaps.cleanEvents(d.Events, maxTagEvents)
	return d, true
}

// parseFilter checks an EPC filter: hex digits only (any case), at most
// maxEPCLen; it returns it upper-cased. "" means no filter.
func parseFilter(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) > maxEPCLen {
		return "", fmt.Errorf("%w: %d characters, at most %d", ErrBadEPC, len(v), maxEPCLen)
	}
	for i := 0; i < len(v); i++ {
		if !isHex(v[i]) {
			return "", fmt.Errorf("%w: %q has %q at position %d; an EPC is hex digits 0-9 A-F", ErrBadEPC, v, v[i], i+1)
		}
	}
	return strings.ToUpper(v), nil
}

// parseEPC is parseFilter for a whole EPC, which must not be empty.
func parseEPC(v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("%w: empty", ErrBadEPC)
	}
	return parseFilter(v)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Errorf("encoding answer: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, err error) {
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

var errTooManyLookups = errors.New("too many tag lookups: the page limits them to protect the pipeline; retry in a second")

// tagCache answers repeated lookups of one tag within an interval from a
// cache and bounds the Model.Tag calls of all clients together with a token
// bucket of perSec tokens.
type tagCache struct {
	ttl    time.Duration
	perSec int
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]tagEntry
	tokens  float64
	filled  time.Time
}

type tagEntry struct {
	at     time.Time
	detail TagDetail
	ok     bool
}

// maxTagCache bounds the cache; beyond it expired entries are dropped.
const maxTagCache = 256

func newTagCache(ttl time.Duration, perSec int, now func() time.Time) *tagCache {
	return &tagCache{ttl: ttl, perSec: perSec, now: now, entries: map[string]tagEntry{}, tokens: float64(perSec)}
}

func (c *tagCache) get(epc string, lookup func(string) (TagDetail, bool)) (TagDetail, bool, error) {
	c.mu.Lock()
	now := c.now()
	if e, ok := c.entries[epc]; ok && now.Sub(e.at) < c.ttl && !now.Before(e.at) {
		c.mu.Unlock()
		return e.detail, e.ok, nil
	}
	if !c.filled.IsZero() {
		c.tokens = min(float64(c.perSec), c.tokens+now.Sub(c.filled).Seconds()*float64(c.perSec))
	}
	c.filled = now
	if c.tokens < 1 {
		c.mu.Unlock()
		return TagDetail{}, false, errTooManyLookups
	}
	c.tokens--
	c.mu.Unlock()

	d, ok := lookup(epc)

	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxTagCache {
		for k, e := range c.entries {
			if now.Sub(e.at) >= c.ttl {
				delete(c.entries, k)
			}
		}
	}
	if len(c.entries) < maxTagCache {
		c.entries[epc] = tagEntry{at: now, detail: d, ok: ok}
	}
	return d, ok, nil
}
