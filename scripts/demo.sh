#!/usr/bin/env bash
# make demo: a dev Kafka broker, the gateway playing a bundled scenario from a
# reads file, and `rfidgw tail` printing the events as they arrive in Kafka.
# Ctrl-C stops all of it. State lives in .demo/ (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
BROKER=127.0.0.1:19092
mkdir -p .demo
pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo; echo "demo stopped (state kept in .demo/; rm -rf .demo to start over)"
}
trap cleanup EXIT INT TERM

echo "== starting the dev Kafka broker on $BROKER (data in .demo/kafka)"
bin/devkafka --listen "$BROKER" --data-dir .demo/kafka 2>.demo/devkafka.log &
pids+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/19092) 2>/dev/null && break; sleep 0.1; done

echo "== starting rfidgw on configs/demo.yaml (log in .demo/rfidgw.log; metrics on http://127.0.0.1:9870/metrics)"
bin/rfidgw run --config configs/demo.yaml --log-format text 2>.demo/rfidgw.log &
pids+=($!)

echo "== events arriving in Kafka (rfidgw tail), Ctrl-C to stop"
bin/rfidgw tail --brokers "$BROKER" --topic rfid.movements --from-beginning &
pids+=($!)
wait "${pids[-1]}"
