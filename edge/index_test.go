package edge

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestEPCIndexMatchesMap cross-checks the hash index against a map through
// random inserts and removals (with growth and backward-shift deletion).
func TestEPCIndexMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := newEPCIndex()
	var tags []tagState
	var free []int32
	want := map[string]int32{}
	for step := range 200000 {
		epc := fmt.Sprintf("3034%020X", rng.IntN(5000))
		ti, ok := x.find(epc, tags)
		wti, wok := want[epc]
		if ok != wok || (ok && ti != wti) {
			t.Fatalf("step %d: find(%s) = %d %v, want %d %v", step, epc, ti, ok, wti, wok)
		}
		switch {
		case ok && rng.IntN(2) == 0:
			x.remove(epc, ti)
			delete(want, epc)
			tags[ti] = tagState{}
			free = append(free, ti)
		case !ok:
			if n := len(free); n > 0 {
				ti, free = free[n-1], free[:n-1]
			} else {
				ti = int32(len(tags))
				tags = append(tags, tagState{})
			}
			tags[ti].epc = epc
			x.insert(epc, ti)
			want[epc] = ti
		}
		if x.n != len(want) {
			t.Fatalf("step %d: index holds %d, want %d", step, x.n, len(want))
		}
	}
	for epc, wti := range want {
		if ti, ok := x.find(epc, tags); !ok || ti != wti {
			t.Fatalf("find(%s) = %d %v at the end, want %d", epc, ti, ok, wti)
		}
	}
}
