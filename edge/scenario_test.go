package edge

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"

	"github.com/rfidgw/rfidgw/reader"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the engine's output")

// loadConfig is a test-only loader: it reads `zones:`, `edge:` and the
// reader ids of `readers:` from a gateway config file, the way the daemon's
// viper-based loader does (durations like "5s").
func loadConfig(t testing.TB, path string) Config {
	t.Helper()
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	cfg := Config{Settings: DefaultSettings(), Logger: slog.New(slog.DiscardHandler)}
	if err := v.UnmarshalKey("zones", &cfg.Zones); err != nil {
		t.Fatalf("%s: zones: %v", path, err)
	}
	if err := v.UnmarshalKey("edge", &cfg.Settings); err != nil {
		t.Fatalf("%s: edge: %v", path, err)
	}
	var readers []struct {
		ID string `mapstructure:"id"`
	}
	if err := v.UnmarshalKey("readers", &readers); err != nil {
		t.Fatalf("%s: readers: %v", path, err)
	}
	cfg.KnownReaders = []string{}
	for _, r := range readers {
		cfg.KnownReaders = append(cfg.KnownReaders, r.ID)
	}
	return cfg
}

var readsCache = map[string][]reader.Read{}

// loadReads reads a reads file (docs/zones.md, "The reads format"), plain or gzipped. The result
// is shared between callers: do not modify it.
func loadReads(t testing.TB, path string) []reader.Read {
	t.Helper()
	path = filepath.Clean(path)
	if reads, ok := readsCache[path]; ok {
		return reads
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var in io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		in = zr
	}
	var reads []reader.Read
	sc := bufio.NewScanner(in)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		r, err := reader.ParseRead(sc.Bytes())
		if err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		reads = append(reads, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	readsCache[path] = reads
	return reads
}

// reduced is an event cut down to the fields of expected.jsonl.
type reduced struct {
	Type, EPC, Zone, From, To string
}

func (r reduced) String() string {
	switch EventType(r.Type) {
	case Inward, Outward:
		return fmt.Sprintf("%s %s", r.Type, r.Zone)
	case RackMove:
		return fmt.Sprintf("%s %s -> %s", r.Type, r.From, r.To)
	default:
		return fmt.Sprintf("%s from %s", r.Type, r.From)
	}
}

func reduce(ev *Event) reduced {
	r := reduced{Type: string(ev.Type), EPC: ev.EPC}
	zoneOf := func(l *Location) string {
		if l == nil {
			return "null"
		}
		return l.Zone
	}
	switch ev.Type {
	case Inward, Outward:
		r.Zone = ev.Zone
	case RackMove:
		r.From, r.To = zoneOf(ev.From), zoneOf(ev.To)
	case RackDepart:
		r.From = zoneOf(ev.From)
	}
	return r
}

func loadExpected(t testing.TB, path string) []reduced {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []reduced
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var j struct {
			Type string  `json:"type"`
			EPC  string  `json:"epc"`
			Zone string  `json:"zone"`
			From *string `json:"from"`
			To   *string `json:"to"`
		}
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		r := reduced{Type: j.Type, EPC: j.EPC, Zone: j.Zone}
		str := func(p *string) string {
			if p == nil {
				return "null"
			}
			return *p
		}
		switch EventType(j.Type) {
		case RackMove:
			r.From, r.To = str(j.From), str(j.To)
		case RackDepart:
			r.From = str(j.From)
		}
		out = append(out, r)
	}
	return out
}

// action is one line of a scenario's optional actions.jsonl: something the
// owner does at a given time (restart the engine from persisted state, or
// reload the zones).
type action struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"` // restart | reload
	Config string    `json:"config"` // reload: a config file beside the scenario
}

func loadActions(t testing.TB, path string) []action {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []action
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var a action
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		if a.Action != "restart" && a.Action != "reload" {
			t.Fatalf("%s:%d: unknown action %q", path, i+1, a.Action)
		}
		out = append(out, a)
	}
	return out
}

type scenario struct {
	name, dir string
	cfg       Config
	reads     []reader.Read
	expected  []reduced
	actions   []action
}

func loadScenario(t testing.TB, dir string) *scenario {
	t.Helper()
	sc := &scenario{name: filepath.Base(dir), dir: dir}
	sc.cfg = loadConfig(t, filepath.Join(dir, "zones.yaml"))
	// reads.jsonl, reads.jsonl.gz, or reads.from naming another scenario's
	// reads (the scenarios that add restarts or reloads to recorded reads).
	readsPath := filepath.Join(dir, "reads.jsonl")
	if _, err := os.Stat(readsPath); err != nil {
		readsPath += ".gz"
	}
	if from, err := os.ReadFile(filepath.Join(dir, "reads.from")); err == nil {
		readsPath = filepath.Join(dir, strings.TrimSpace(string(from)))
	}
	sc.reads = loadReads(t, readsPath)
	sc.expected = loadExpected(t, filepath.Join(dir, "expected.jsonl"))
	sc.actions = loadActions(t, filepath.Join(dir, "actions.jsonl"))
	return sc
}

func scenarioDirs(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob("testdata/scenarios/*/expected.jsonl")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no scenarios under testdata/scenarios: %v", err)
	}
	for i := range dirs {
		dirs[i] = filepath.Dir(dirs[i])
	}
	slices.Sort(dirs)
	return dirs
}

// runLog records what a replay did besides emitting events.
type runLog struct {
	restarts, reloads int
	// pendingAtRestart counts tags that were waiting out a dwell (had a
	// candidate rack) when the engine was restarted.
	pendingAtRestart int
}

// replay plays a scenario like `rfidgw replay` does (Tick to each read's
// time, Process, Flush at the end), applying its actions the way the owner
// would: state changes are persisted as they come, a restart builds a new
// engine from them (and the sources report the readers that are offline),
// a reload calls Reconfigure.
func replay(t testing.TB, sc *scenario) ([]Event, runLog) {
	t.Helper()
	var rl runLog
	eng, err := New(sc.cfg)
	if err != nil {
		t.Fatalf("%s: New: %v", sc.name, err)
	}
	persisted := map[string]string{}
	persist := func() {
		for _, c := range eng.TakeStateChanges(nil) {
			if c.Rack == "" {
				delete(persisted, c.EPC)
			} else {
				persisted[c.EPC] = c.Rack
			}
		}
	}
	offline := map[string]bool{}
	var events []Event
	next := 0
	for i := range sc.reads {
		r := &sc.reads[i]
		for next < len(sc.actions) && !r.Time.Before(sc.actions[next].Time) {
			a := sc.actions[next]
			next++
			events = eng.Tick(events, a.Time)
			persist()
			switch a.Action {
			case "restart":
				rl.restarts++
				eng.Snapshot(a.Time, func(v TagView) {
					if v.Candidate != "" {
						rl.pendingAtRestart++
					}
				})
				eng, err = New(sc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				epcs := make([]string, 0, len(persisted))
				for epc := range persisted {
					epcs = append(epcs, epc)
				}
				slices.Sort(epcs)
				for _, epc := range epcs {
					eng.Restore(epc, persisted[epc])
				}
				ids := make([]string, 0, len(offline))
				for id, off := range offline {
					if off {
						ids = append(ids, id)
					}
				}
				slices.Sort(ids)
				for _, id := range ids {
					st := reader.StatusRead(a.Time, id, reader.StatusOffline)
					events = eng.Process(events, &st)
				}
			case "reload":
				rl.reloads++
				cfg := loadConfig(t, filepath.Join(sc.dir, a.Config))
				if err := eng.Reconfigure(cfg); err != nil {
					t.Fatalf("%s: reload %s: %v", sc.name, a.Config, err)
				}
			}
		}
		if r.IsStatus() {
			offline[r.Reader] = r.Status == reader.StatusOffline
		}
		events = eng.Tick(events, r.Time)
		events = eng.Process(events, r)
		persist()
	}
	if len(sc.reads) > 0 {
		events = eng.Flush(events, sc.reads[len(sc.reads)-1].Time)
	}
	return events, rl
}

// score compares per the scenarios README: multisets for precision and
// recall, and per EPC the exact sequence.
type score struct {
	printed, expected, matched int
	orderErrs                  []string
	missing, unexpected        map[string][]reduced
}

func compare(got []Event, want []reduced) score {
	s := score{printed: len(got), expected: len(want), missing: map[string][]reduced{}, unexpected: map[string][]reduced{}}
	count := map[reduced]int{}
	for _, w := range want {
		count[w]++
	}
	gotBy := map[string][]reduced{}
	for i := range got {
		r := reduce(&got[i])
		gotBy[r.EPC] = append(gotBy[r.EPC], r)
		if count[r] > 0 {
			count[r]--
			s.matched++
		} else {
			s.unexpected[r.EPC] = append(s.unexpected[r.EPC], r)
		}
	}
	wantBy := map[string][]reduced{}
	for _, w := range want {
		wantBy[w.EPC] = append(wantBy[w.EPC], w)
	}
	for w, n := range count {
		for ; n > 0; n-- {
			s.missing[w.EPC] = append(s.missing[w.EPC], w)
		}
	}
	epcs := map[string]bool{}
	for k := range gotBy {
		epcs[k] = true
	}
	for k := range wantBy {
		epcs[k] = true
	}
	for epc := range epcs {
		if !slices.Equal(gotBy[epc], wantBy[epc]) {
			s.orderErrs = append(s.orderErrs, fmt.Sprintf("%s: got %v, want %v", epc, gotBy[epc], wantBy[epc]))
		}
	}
	slices.Sort(s.orderErrs)
	return s
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// TestScenarios replays every scenario under testdata/scenarios and
// requires precision 1 and recall 1 with the right order per EPC.
func TestScenarios(t *testing.T) {
	var total score
	for _, dir := range scenarioDirs(t) {
		sc := loadScenario(t, dir)
		t.Run(sc.name, func(t *testing.T) {
			events, rl := replay(t, sc)
			s := compare(events, sc.expected)
			total.printed += s.printed
			total.expected += s.expected
			total.matched += s.matched
			msg := fmt.Sprintf("scenario %-22s precision %.3f recall %.3f (%d printed, %d expected, %d matched)",
				sc.name, ratio(s.matched, s.printed), ratio(s.matched, s.expected), s.printed, s.expected, s.matched)
			t.Log(msg)
			fmt.Println(msg)
			for epc, m := range s.missing {
				t.Errorf("%s: missing %v", epc, m)
			}
			for epc, u := range s.unexpected {
				t.Errorf("%s: unexpected %v", epc, u)
			}
			for _, o := range s.orderErrs {
				t.Errorf("order: %s", o)
			}
			if n := countActions(sc.actions, "restart"); rl.restarts != n {
				t.Errorf("%d restarts done, actions.jsonl has %d", rl.restarts, n)
			}
			if n := countActions(sc.actions, "reload"); rl.reloads != n {
				t.Errorf("%d reloads done, actions.jsonl has %d", rl.reloads, n)
			}
			if strings.Contains(sc.name, "restart_mid_dwell") && rl.pendingAtRestart == 0 {
				t.Errorf("no tag was waiting out a dwell at any restart: the scenario does not test what it is named for")
			}
		})
	}
	msg := fmt.Sprintf("all scenarios: precision %.4f recall %.4f (%d printed, %d expected, %d matched)",
		ratio(total.matched, total.printed), ratio(total.matched, total.expected), total.printed, total.expected, total.matched)
	t.Log(msg)
	fmt.Println(msg)
}

func countActions(as []action, kind string) int {
	n := 0
	for _, a := range as {
		if a.Action == kind {
			n++
		}
	}
	return n
}
