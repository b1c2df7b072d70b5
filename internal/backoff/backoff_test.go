package backoff

import (
	"context"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 30 * time.Second}
	var got []time.Duration
	for i := 0; i < 7; i++ {
		got = append(got, b.Next())
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff sequence %v, want %v s", got, want)
		}
	}
	b.Reset()
	if d := b.Next(); d != time.Second {
		t.Fatalf("after reset %v, want 1s", d)
	}
	for i := 0; i < 1000; i++ {
		if j := Jitter(10*time.Second, 0.2); j < 8*time.Second || j >= 12*time.Second {
			t.Fatalf("Jitter(10s, 0.2) = %v, want within [8s, 12s)", j)
		}
	}
	jb := Backoff{Min: 10 * time.Second, Max: 10 * time.Second, Jitter: 0.2}
	seen := map[time.Duration]bool{}
	for i := 0; i < 100; i++ {
		d := jb.Next()
		if d < 8*time.Second || d >= 12*time.Second {
			t.Fatalf("jittered wait %v, want within [8s, 12s)", d)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Fatal("jitter gave the same wait every time")
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := Backoff{Min: time.Hour, Max: time.Hour}
	if err := b.Wait(ctx); err != context.Canceled {
		t.Fatalf("Wait on a cancelled context = %v", err)
	}
}
