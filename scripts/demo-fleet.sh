#!/usr/bin/env bash
# make demo-fleet: a dev Kafka broker, two floor gateways (floor3, floor4)
# playing recorded floors, and `rfidgw hub` answering for the fleet on
# http://127.0.0.1:8090 (/gateways, /assets/{epc}, /racks/{zone}, /metrics).
# Ctrl-C stops all of it. State lives in .demo/fleet/ (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
BROKER=127.0.0.1:19092
D=.demo/fleet
mkdir -p "$D"
pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo; echo "demo stopped (state kept in $D; rm -rf $D to start over)"
}
trap cleanup EXIT INT TERM

echo "== starting the dev Kafka broker on $BROKER"
bin/devkafka --listen "$BROKER" --data-dir "$D/kafka" 2>"$D/devkafka.log" &
pids+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/19092) 2>/dev/null && break; sleep 0.1; done

port=9871
for gw in floor3 floor4; do
  # each floor its own tags: the recorded floor with another EPC prefix
  sed "s/\"epc\":\"30/\"epc\":\"3${gw: -1}/" configs/demo-reads.jsonl >"$D/$gw-reads.jsonl"
  sed -e "s/id: demo$/id: $gw/" -e "s#data_dir: .demo/data#data_dir: $D/$gw#" \
      -e "s#path: configs/demo-reads.jsonl#path: $D/$gw-reads.jsonl#" \
      -e "s#listen: 127.0.0.1:9870#listen: 127.0.0.1:$port#" configs/demo.yaml >"$D/$gw.yaml"
  echo "== starting gateway $gw (log $D/$gw.log, metrics http://127.0.0.1:$port/metrics)"
  bin/rfidgw run --config "$D/$gw.yaml" --log-format text 2>"$D/$gw.log" &
  pids+=($!)
  port=$((port + 1))
done

echo "== starting rfidgw hub on http://127.0.0.1:8090 (log $D/hub.log)"
bin/rfidgw hub --brokers "$BROKER" --listen 127.0.0.1:8090 --log-format text 2>"$D/hub.log" &
pids+=($!)

echo "== the hub's page every 10 s (curl http://127.0.0.1:8090/gateways for JSON), Ctrl-C to stop"
while sleep 10; do
  curl -fsS http://127.0.0.1:8090/ || echo "(hub not answering yet)"
done
