#!/usr/bin/env bash
# Re-captures the golden frames: runs each real client through a fixed scenario
# against golden_capture_listener and replaces frames/<client>/ with the request
# frames it sent. Run by hand (see README.md); CI only decodes the committed
# fixtures.
#
# Usage: tests/golden/capture.sh [LISTENER]
#   LISTENER defaults to build/golden/tests/golden/golden_capture_listener
#   (cmake --build build/golden --target golden_capture_listener).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
listener=${1:-$here/../../build/golden/tests/golden/golden_capture_listener}
# Debian's interpreter: it has python3-confluent-kafka and python3-kafka.
python=/usr/bin/python3
# No client step may hang the capture.
client_timeout=20s
# Frames beyond this many with the same client id, API, version and size are
# not kept (fetch loops, heartbeats).
keep_similar=3

[[ -x $listener ]] || { echo "no listener at $listener: build golden_capture_listener" >&2; exit 1; }

work=$(mktemp -d)
listener_pid=
cleanup() {
  if [[ -n $listener_pid ]]; then kill -TERM "$listener_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Clients send a batch uncompressed when compressing does not make it smaller,
# so the values repeat themselves.
filler=$(printf 'golden frame %.0s' $(seq 16))
for i in 1 2 3; do echo "key-$i:value-$i $filler"; done >"$work/messages.txt"

start_listener() {
  local dir=$1
  mkdir -p "$dir"
  "$listener" --port 0 --out "$dir/frames" --keep-similar "$keep_similar" \
    >"$dir/listener.out" 2>"$dir/listener.log" &
  listener_pid=$!
  for _ in $(seq 50); do
    if read -r _ _ port <"$dir/listener.out" 2>/dev/null && [[ -n $port ]]; then
      bootstrap=127.0.0.1:$port
      return
    fi
    sleep 0.1
  done
  echo "the listener did not start; its log:" >&2
  cat "$dir/listener.log" >&2
  exit 1
}

stop_listener() {
  kill -TERM "$listener_pid" 2>/dev/null || true
  if ! wait "$listener_pid"; then
    echo "  the listener did not exit cleanly" >&2
    failed=1
  fi
  listener_pid=
}

failed=0
step() {
  echo "  $*" | cut -c1-150
  local rc=0
  timeout "$client_timeout" "$@" >>"$work/clients.log" 2>&1 || rc=$?
  if ((rc)); then
    echo "  FAILED (exit $rc; 124 is the timeout)" >&2
    failed=1
  fi
}

kcat_scenario() {
  local codec
  for codec in none gzip snappy lz4 zstd; do
    step kcat -P -b "$bootstrap" -t golden -K: -z "$codec" -X linger.ms=50 \
      -X client.id="kcat-produce-$codec" <"$work/messages.txt"
  done
  step kcat -P -b "$bootstrap" -t golden -K: -X enable.idempotence=true -X linger.ms=50 \
    -X client.id=kcat-produce-idempotent <"$work/messages.txt"
  step kcat -C -b "$bootstrap" -t golden -o beginning -e -X client.id=kcat-consume
  step kcat -L -b "$bootstrap" -X client.id=kcat-metadata
}

confluent_kafka_scenario() {
  step "$python" "$here/scenarios/confluent_kafka_scenario.py" "$bootstrap"
}

kafka_python_scenario() {
  step "$python" "$here/scenarios/kafka_python_scenario.py" "$bootstrap"
}

kafkajs_scenario() {
  step node "$here/scenarios/kafkajs_scenario.js" "$bootstrap"
}

# capture CLIENT: one listener (so one cluster state) for all of CLIENT's steps.
capture() {
  local client=$1 dir=$work/$1
  echo "$client:"
  failed=0
  : >"$work/clients.log"
  start_listener "$dir"
  "${client}_scenario"
  stop_listener
  # Closed connections and the like: worth a look, not a failure.
  if [[ -s $dir/listener.log ]]; then sed 's/^/  listener: /' "$dir/listener.log"; fi
  if ((failed)); then
    cat "$work/clients.log" >&2
    echo "$client: a step failed; frames/$client/ left as it was" >&2
    return 1
  fi
  rm -rf "$here/frames/$client"
  mkdir -p "$here/frames/$client"
  cp "$dir"/frames/*.bin "$here/frames/$client/"
  echo "  $(ls "$here/frames/$client" | wc -l) frames"
}

if [[ ! -d $here/node_modules/kafkajs ]]; then
  (cd "$here" && timeout 120 npm ci --no-audit --no-fund >/dev/null) ||
    echo "npm ci failed: kafkajs will fail below" >&2
fi

status=0
for client in kcat confluent_kafka kafka_python kafkajs; do
  capture "$client" || status=1
done
exit $status
