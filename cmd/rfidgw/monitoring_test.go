package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rfidgw/rfidgw/internal/testkit"
)

// scrape returns the /metrics text of url.
func scrape(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// metricNames are the families a /metrics text declares (# TYPE lines),
// plus the _bucket/_sum/_count series of histograms and summaries.
func metricNames(text string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
			if f[3] == "histogram" || f[3] == "summary" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[f[2]+s] = true
				}
			}
		}
	}
	return names
}

var promMetricRe = regexp.MustCompile(`\b(?:rfidgw|go|process)_[a-z0-9_]+\b`)

// checkExprs: every expression names at least one rfidgw metric, and every
// metric it names is one the daemon exports.
// onlyWithAntennaState: series that exist only once a reader reports the
// state of its antennas (LLRP AntennaEvent); the demo's file reader does
// not, so these are checked against the daemon's metric definitions.
var onlyWithAntennaState = map[string]bool{"rfidgw_antenna_connected": true}

func definedInMetrics(t *testing.T, name string) bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(testkit.RepoRoot(), "internal", "metrics", "metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(src), `"`+name+`"`)
}

func checkExprs(t *testing.T, where string, exprs []string, exported map[string]bool) {
	t.Helper()
	if len(exprs) == 0 {
		t.Errorf("%s: no expressions found", where)
	}
	for _, e := range exprs {
		names := promMetricRe.FindAllString(e, -1)
		if !strings.Contains(e, "rfidgw_") {
			if e != `up{job=~".*rfidgw.*"} == 0` {
				t.Errorf("%s: %q uses no rfidgw metric", where, e)
			}
		}
		for _, n := range names {
			if !exported[n] && !(onlyWithAntennaState[n] && definedInMetrics(t, n)) {
				t.Errorf("%s: %q uses %s, which the daemon does not export", where, e, n)
			}
		}
	}
}

// dashboardExprs walks the Grafana JSON for every "expr" and checks the
// layout: unique panel ids, a 24-column grid, the datasource variable.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			ID      int                      `json:"id"`
			Title   string                   `json:"title"`
			Type    string                   `json:"type"`
			GridPos struct{ X, Y, W, H int } `json:"gridPos"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct{ Name, Type string } `json:"list"`
		} `json:"templating"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: not valid JSON: %v", path, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("%s: title %q uid %q", path, d.Title, d.UID)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["instance"] != "query" {
		t.Errorf("%s: want a datasource variable and an instance query variable, got %v", path, vars)
	}
	ids := map[int]bool{}
	var exprs []string
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: duplicate id %d", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside Grafana's 24 columns", p.Title, p.GridPos)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	return exprs
}

func alertExprs(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var exprs []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	return exprs
}

// TestMonitoringMatchesTheDaemon runs the built daemon on the demo floor
// (a looping reads file, Kafka unreachable) and checks its /metrics against
// what the package ships for monitoring: rfidgw_build_info carries the
// version `rfidgw --version` prints, every reader id the file provides has
// rfidgw_reader_connected 1, and every metric the Grafana dashboard and the
// Prometheus alert rules use is one the daemon exports. With promtool
// installed (Debian's prometheus package; make test installs it), the rules
// pass `promtool check rules` and their unit tests.
func TestMonitoringMatchesTheDaemon(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	dir := t.TempDir()
	httpPort := testkit.FreePort(t)
	cfg := gatewayConfig(t, dir, demoReads(), fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)), httpPort)
	body, _ := os.ReadFile(cfg)
	// Keep the file playing so the reader stays "connected".
	s := strings.Replace(string(body), "speed: 0", "speed: 1", 1)
	s = strings.Replace(s, "loop: false", "loop: true", 1)
	os.WriteFile(cfg, []byte(s), 0o644)

	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("rfidgw --version: %v", err)
	}
	vout, err := exec.Command(bin, "version").Output()
	if err != nil || string(vout) != string(out) {
		t.Errorf("`rfidgw version` = %q (%v), `rfidgw --version` = %q: want the same line", vout, err, out)
	}
	version := strings.Fields(string(out))[1]

	gw := testkit.Start(t, nil, bin, "run", "--config", cfg, "--log-format", "text")
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	var text string
	testkit.WaitFor(t, 30*time.Second, "the file reader connected and the gateway ready", func() bool {
		text, _ = scrape(url)
		return strings.Contains(text, `rfidgw_reader_connected{reader="rack-row-b"} 1`) && strings.Contains(text, "\nrfidgw_ready 1")
	})
	for _, id := range []string{"dock-1", "rack-row-a", "rack-row-b"} {
		if !strings.Contains(text, fmt.Sprintf(`rfidgw_reader_connected{reader=%q} 1`, id)) {
			t.Errorf("no rfidgw_reader_connected{reader=%q} 1 for the file reader's id", id)
		}
	}
	if want := `rfidgw_build_info{commit="unknown",gateway="e2e",goversion=`; !strings.Contains(text, want) ||
		!strings.Contains(text, fmt.Sprintf(`version=%q} 1`, version)) {
		t.Errorf("rfidgw_build_info does not carry version %q: %s", version, grepLines(text, "rfidgw_build_info"))
	}
	if !strings.Contains(text, "\nrfidgw_buffer_max_bytes 2.68435456e+08") {
		t.Errorf("rfidgw_buffer_max_bytes is not the demo's 256MiB: %s", grepLines(text, "rfidgw_buffer_max_bytes"))
	}
	exported := metricNames(text)
	// The zone page's clock is the recorded time of the file, and says so.
	clk := streamClock(t, fmt.Sprintf("http://127.0.0.1:%d/api/stream", httpPort))
	if !clk.Recorded || clk.Now.Format("2006-01-02") != "2026-11-20" {
		t.Errorf("zone page clock = %+v, want the recorded time (2026-11-20) marked recorded", clk)
	}
	gw.Stop(t, 20*time.Second)

	mon := filepath.Join(testkit.RepoRoot(), "packaging", "monitoring")
	checkExprs(t, "rfidgw-dashboard.json", dashboardExprs(t, filepath.Join(mon, "rfidgw-dashboard.json")), exported)
	checkExprs(t, "rfidgw-alerts.yml", alertExprs(t, filepath.Join(mon, "rfidgw-alerts.yml")), exported)

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (make test installs it as root: apt-get install -y prometheus): rules not checked by promtool")
	}
	for _, args := range [][]string{{"check", "rules", "rfidgw-alerts.yml"}, {"test", "rules", "rfidgw-alerts.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = mon
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func grepLines(text, prefix string) string {
	var ls []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			ls = append(ls, l)
		}
	}
	sort.Strings(ls)
	return strings.Join(ls, "; ")
}

// streamClock reads the first snapshot of the zone page's stream and
// returns its clock.
func streamClock(t *testing.T, url string) (c struct {
	Now      time.Time `json:"now"`
	Recorded bool      `json:"recorded"`
}) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("zone page stream: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	snapshot := false
	for sc.Scan() {
		line := sc.Text()
		if line == "event: snapshot" {
			snapshot = true
			continue
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && snapshot {
			var msg struct {
				Clock *struct {
					Now      time.Time `json:"now"`
					Recorded bool      `json:"recorded"`
				} `json:"clock"`
			}
			if err := json.Unmarshal([]byte(data), &msg); err != nil || msg.Clock == nil {
				t.Fatalf("zone page snapshot without a clock (%v): %.200s", err, data)
			}
			c.Now, c.Recorded = msg.Clock.Now, msg.Clock.Recorded
			return c
		}
	}
	t.Fatalf("no snapshot on the zone page stream: %v", sc.Err())
	return c
}
