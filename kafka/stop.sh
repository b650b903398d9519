#!/usr/bin/env bash
# Stops the broker that kafka/start.sh started from $EOSIM_KAFKA_DIR
# (default /tmp/eosim-kafka): SIGTERM (a controlled shutdown), then SIGKILL
# after 20 s. Stopping a broker that is not running is not an error.
set -euo pipefail
state="${EOSIM_KAFKA_DIR:-/tmp/eosim-kafka}"
[ -f "$state/pid" ] || exit 0
pid=$(cat "$state/pid")
if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 80); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "kafka/stop.sh: broker $pid ignored SIGTERM for 20 s; killing it" >&2
    kill -9 "$pid" 2>/dev/null || true
  fi
fi
rm -f "$state/pid" "$state/address"
