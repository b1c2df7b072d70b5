package buffer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	crashDirEnv     = "RFIDGW_BUFFER_CRASH_DIR"
	crashCompactEnv = "RFIDGW_BUFFER_CRASH_COMPACT"
)

func crashOptions() Options {
	o := testOptions()
	o.Gateway = "crash"
	o.TickInterval = 0
	if os.Getenv(crashCompactEnv) != "" {
		// Compact whenever the queue is small against the file.
		o.TickInterval = 2 * time.Millisecond
		o.CompactMinFileBytes = 1
		o.CompactMaxEvents = 1 << 30
		o.compactEvery = time.Millisecond
	}
	return o
}

// TestHelperCrash is the child of TestCrashSIGKILL: it appends (with a
// state change in the same transaction) and leases/acks in a loop until it
// is killed. It prints "C first last" after each Append returned and
// "A seq..." before each Ack.
func TestHelperCrash(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process of TestCrashSIGKILL")
	}
	q, err := Open(dir, crashOptions())
	if err != nil {
		fmt.Println("open error:", err)
		os.Exit(3)
	}
	var outMu sync.Mutex
	say := func(line string) {
		outMu.Lock()
		_, _ = os.Stdout.WriteString(line + "\n") // one write: a line is whole or absent
		outMu.Unlock()
	}
	say("ready")
	ctx := context.Background()
	go func() {
		for last := 0.0; ; time.Sleep(time.Millisecond) {
			if n := counterValue(t, testMetrics.BufferCompactions); n > last {
				say("K")
				last = n
			}
		}
	}()
	go func() {
		for {
			limit, pause := 1+rand.IntN(64), time.Duration(rand.IntN(2000))*time.Microsecond
			if os.Getenv(crashCompactEnv) != "" {
				limit, pause = 1000, 0 // keep the queue small against the file
			}
			recs, err := q.Lease(ctx, limit)
			if err != nil {
				say("lease error: " + err.Error())
				return
			}
			var b strings.Builder
			b.WriteString("A")
			seqs := seqsOf(recs)
			for _, s := range seqs {
				b.WriteString(" " + strconv.FormatUint(s, 10))
			}
			say(b.String())
			if err := q.Ack(seqs...); err != nil {
				say("ack error: " + err.Error())
			}
			time.Sleep(pause)
		}
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				evs := testEvents(w*1_000_000+i, 1+rand.IntN(20))
				// The state value is written in the same transaction; the
				// parent checks it equals the last seq after every kill.
				err := q.Append(ctx, evs, []StateChange{{Key: []byte("writer-" + strconv.Itoa(w)), Value: []byte(strconv.Itoa(i))}})
				if err != nil {
					say("append error: " + err.Error())
					return
				}
				say(fmt.Sprintf("C %d %d %d %d", evs[0].Seq, evs[len(evs)-1].Seq, w, i))
			}
		}()
	}
	wg.Wait()
	os.Exit(4)
}

func TestCrashSIGKILL(t *testing.T) {
	crashLoop(t, 25, nil)
}

// TestCrashSIGKILLCompaction kills the child while it compacts its file
// over and over.
func TestCrashSIGKILLCompaction(t *testing.T) {
	compactions := crashLoop(t, 20, []string{crashCompactEnv + "=1"})
	t.Logf("the children compacted %d times", compactions)
	if compactions < 20 {
		t.Fatalf("the children compacted only %d times", compactions)
	}
}

// crashLoop runs and kills the child kills times and checks the buffer
// after each kill; it returns how many compactions the children reported.
func crashLoop(t *testing.T, kills int, env []string) (compactions int) {
	dir := t.TempDir()
	committed := map[uint64]bool{}
	ackIntent := map[uint64]bool{}
	lastAppend := map[string]int{} // writer -> index of its last Append reported committed
	for k := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrash$", "-test.count=1")
		cmd.Env = append(append(os.Environ(), crashDirEnv+"="+dir), env...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		readDone := make(chan []byte)
		started := make(chan struct{})
		go func() {
			br := bufio.NewReader(stdout)
			first, _ := br.ReadBytes('\n')
			close(started)
			rest, _ := io.ReadAll(br)
			readDone <- append(first, rest...)
		}()
		<-started
		// Let it run a random while, then SIGKILL it (it has no chance to
		// close the file).
		time.Sleep(time.Duration(30+rand.IntN(250)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		out := <-readDone
		_ = cmd.Wait()
		if !bytes.HasPrefix(out, []byte("ready\n")) {
			t.Fatalf("kill %d: child did not start: %q", k, firstLine(out))
		}
		// Only whole lines count: a line cut by the kill was not printed.
		if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
			out = out[:i+1]
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(nil, 1<<20)
		nc := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 5 && f[0] == "C":
				a, _ := strconv.ParseUint(f[1], 10, 64)
				b, _ := strconv.ParseUint(f[2], 10, 64)
				for s := a; s <= b; s++ {
					committed[s] = true
				}
				i, _ := strconv.Atoi(f[4])
				lastAppend["writer-"+f[3]] = i
				nc++
			case len(f) >= 1 && f[0] == "A":
				for _, x := range f[1:] {
					s, _ := strconv.ParseUint(x, 10, 64)
					ackIntent[s] = true
				}
			case f[0] == "K":
				compactions++
			case f[0] == "ready":
			default:
				t.Fatalf("kill %d: child said %q", k, sc.Text())
			}
		}
		t.Logf("kill %d: %d appends reported committed", k, nc)
		verifyAfterCrash(t, dir, committed, ackIntent)
		// The state change of each reported Append is durable too; at most
		// the one Append in flight per writer committed unreported.
		state := readState(t, dir)
		for w, i := range lastAppend {
			if got, _ := strconv.Atoi(state[w]); got != i && got != i+1 {
				t.Fatalf("kill %d: state %s = %q, last reported Append %d", k, w, state[w], i)
			}
		}
		lastAppend = map[string]int{} // the next child starts at 0 again
	}
	if len(committed) < kills || len(ackIntent) == 0 {
		t.Fatalf("the children did too little: %d committed, %d acked", len(committed), len(ackIntent))
	}
	return compactions
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// verifyAfterCrash: every seq up to the last one assigned is either still in
// the buffer (intact) or was acked by the child; every seq the child saw
// committed is at most that last seq.
func verifyAfterCrash(t *testing.T, dir string, committed, ackIntent map[uint64]bool) {
	t.Helper()
	st, err := ReadStats(dir)
	if err != nil {
		t.Fatalf("ReadStats after SIGKILL: %v", err)
	}
	var out bytes.Buffer
	if err := Dump(dir, &out); err != nil {
		t.Fatalf("Dump after SIGKILL: %v", err)
	}
	present := map[uint64]bool{}
	dec := json.NewDecoder(&out)
	for {
		var ev struct {
			Seq uint64 `json:"seq"`
		}
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		present[ev.Seq] = true
	}
	if uint64(len(present)) != st.Events {
		t.Fatalf("dump has %d events, stats say %d", len(present), st.Events)
	}
	for s := range committed {
		if s > st.LastSeq {
			t.Fatalf("seq %d was reported committed but the buffer's last seq is %d", s, st.LastSeq)
		}
	}
	for s := uint64(1); s <= st.LastSeq; s++ {
		if !present[s] && !ackIntent[s] {
			t.Fatalf("seq %d is missing: neither in the buffer nor acked (last seq %d, committed reported: %v)", s, st.LastSeq, committed[s])
		}
	}
}

func readState(t *testing.T, dir string) map[string]string {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, dbFile), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := map[string]string{}
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketState).ForEach(func(k, v []byte) error { m[string(k)] = string(v); return nil })
	})
	return m
}
