package serial

import (
	"testing"
	"time"
)

// Hooks for the tests of package serial_test, which run the source against
// the simulator of serial/serialsim (an in-package test cannot import it).

// UseFastTiming shortens every delay of s; the behaviour is the same.
func UseFastTiming(s *Source) {
	t := defaultTiming()
	t.backoffMin = 20 * time.Millisecond
	t.backoffMax = 200 * time.Millisecond
	t.poll = 20 * time.Millisecond
	t.answer = 300 * time.Millisecond
	t.silence = 1 * time.Second
	t.round = 500 * time.Millisecond
	t.stopWait = 500 * time.Millisecond
	t.statEvery = 50 * time.Millisecond
	t.checkWait = 500 * time.Millisecond
	t.idleAbandon = 200 * time.Millisecond
	s.t = t
}

// Benchmark helpers of bench_test.go.
var (
	Hex         = h
	BenchStream = benchStream
	ReportRate  = report
)

// BenchFrames is how many frames one benchmark blob holds.
const BenchFrames = benchFrames

var _ func(testing.TB, string) []byte = Hex
