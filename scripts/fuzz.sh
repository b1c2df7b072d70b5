#!/usr/bin/env bash
# Run every fuzz target of the module for FUZZTIME each (default 8s).
# A crasher is written by `go test` to <pkg>/testdata/fuzz/<Target>/ and then
# runs as a regression test in every plain `go test`: commit it with the fix.
# Go 1.26's fuzzer sometimes ends a time-limited run with a bare "context
# deadline exceeded" and no input (golang/go#75804); that is reported and
# retried once, not counted as a crash. Anything else fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-8s}
failed=0
log=$(mktemp)
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //' | sort -u); do
    for attempt in 1 2; do
      echo "fuzz ${pkg#github.com/rfidgw/rfidgw/} $f ($FUZZTIME)"
      if go test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" >"$log" 2>&1; then
        break
      fi
      if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
        echo "  (fuzzer ended with the Go toolchain's deadline error, no failing input; retrying)"
        [ $attempt = 2 ] && echo "  (again; not a crash of our code, moving on)"
        continue
      fi
      cat "$log"
      failed=1
      break
    done
  done
done
rm -f "$log"
exit $failed
