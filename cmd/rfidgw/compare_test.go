package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rfidgw/rfidgw/internal/testkit"
)

// TestReplayCompare: the built binary replays the demo floor with the demo
// config and with a trial where rack-A02's antenna is one that reads
// nothing; --compare prints exactly the events that differ, in time order,
// and a summary row per event type. A config compared with itself differs
// in nothing.
func TestReplayCompare(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	demo := filepath.Join(testkit.RepoRoot(), "configs", "demo.yaml")
	body, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	trial := filepath.Join(t.TempDir(), "trial.yaml")
	moved := strings.Replace(string(body), "rack: \"02\"\n    antennas: [{reader: rack-row-a, antennas: [2]}]",
		"rack: \"02\"\n    antennas: [{reader: rack-row-a, antennas: [5]}]", 1)
	if moved == string(body) {
		t.Fatal("configs/demo.yaml changed: rack-A02's antennas not found")
	}
	os.WriteFile(trial, []byte(moved), 0o644)

	out, err := exec.Command(bin, "replay", "--config", demo, "--compare", trial, "--reads", demoReads(), "--flush").CombinedOutput()
	if err != nil {
		t.Fatalf("replay --compare: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{
		`^- 2026-11-20T08:00:05\.295Z rack_move +3034DF296FDCCF04CFA7C017 \(none\) -> rack-A02  only with demo\.yaml$`,
		`^\+ 2026-11-20T08:00:11\.028Z rack_move +3034DF296FDCCF04CFA7C017 \(none\) -> rack-A03  only with trial\.yaml$`,
		`^\+ 2026-11-20T08:02:29\.888Z rack_depart +3034DF296FDCCF04CFA7C017 rack-A03  only with trial\.yaml$`,
		`^- 2026-11-20T08:02:29\.964Z rack_depart +3034DF296FDCCF04CFA7C017 rack-A02  only with demo\.yaml$`,
		`^$`,
		`^event +with demo\.yaml +with trial\.yaml +in both +at another time +only with demo\.yaml +only with trial\.yaml$`,
		`^outward +1 +1 +1 +0 +0 +0$`,
		`^rack_move +2 +2 +1 +0 +1 +1$`,
		`^rack_depart +1 +1 +0 +0 +1 +1$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("replay --compare printed %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want /%s/", i+1, lines[i], w)
		}
	}

	out, err = exec.Command(bin, "replay", "--config", demo, "--compare", demo, "--reads", demoReads()).CombinedOutput()
	if err != nil {
		t.Fatalf("replay --compare itself: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "no difference: ") || !regexp.MustCompile(`(?m)^rack_move +2 +2 +2 +0 +0 +0$`).Match(out) {
		t.Errorf("a config compared with itself:\n%s", out)
	}
}
