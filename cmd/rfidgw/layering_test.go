package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/rfidgw/rfidgw/internal/testkit"
)

// TestDataFlowsOneWay: reader -> edge -> buffer -> uplink -> hub, and no package
// imports one that comes after it in that chain (tests included).
func TestDataFlowsOneWay(t *testing.T) {
	const mod = "github.com/rfidgw/rfidgw/"
	stage := func(pkg string) int {
		for i, s := range []string{"reader", "edge", "buffer", "uplink", "hub"} {
			if p := strings.TrimPrefix(pkg, mod); p == s || strings.HasPrefix(p, s+"/") {
				return i
			}
		}
		return -1
	}
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}}`, "./...")
	cmd.Dir = testkit.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		from := stage(f[0])
		if from < 0 {
			continue
		}
		checked++
		for _, imp := range f[1:] {
			if to := stage(imp); to > from {
				t.Errorf("%s imports %s, which comes later in reader -> edge -> buffer -> uplink -> hub", f[0], imp)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d stage packages found; go list output:\n%s", checked, out)
	}
}

// TestMetricsPassedIn: the edge engine and the reader packages count
// through their own small interfaces (edge.StatsSink, reader.Metrics);
// neither they nor anything they import pulls in Prometheus, and no package
// keeps a global registry for the stages to write to.
func TestMetricsPassedIn(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./edge/", "./reader/...")
	cmd.Dir = testkit.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/prometheus/") || pkg == "github.com/rfidgw/rfidgw/internal/metrics" {
			t.Errorf("edge or reader/... depends on %s", pkg)
		}
	}
	grep := exec.Command("grep", "-rn", "--include=*.go", "-E", `^var [A-Za-z]+ *= *(prometheus\.NewRegistry|New)\(\)`, "internal/metrics")
	grep.Dir = testkit.RepoRoot()
	if out, _ := grep.Output(); len(out) > 0 {
		t.Errorf("internal/metrics keeps a package-level Metrics or registry:\n%s", out)
	}
}
