#!/usr/bin/env bash
# Starts a local three-node journal cluster (config/cluster/journal-{1,2,3}.toml) in the
# foreground, next to a running placement cluster (config/cluster/start-placement.sh); Ctrl-C
# (or SIGTERM) stops all three cleanly. Run from anywhere:
#
#   config/cluster/start-placement.sh &
#   config/cluster/start-journal.sh
#   robust-ctl journal shard create events --replicas 3 --placement 127.0.0.1:1228
#   seq 1 5 | robust-ctl journal write --shard events --acks all --placement 127.0.0.1:1228
#   robust-ctl journal read --shard events --placement 127.0.0.1:1228
#
# Data goes to ./data/cluster/journal-N under the repository; delete it to start afresh.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f dist/bin/journal.js ]; then
  npm run build
fi
pids=()
stop() {
  trap - INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait
}
trap stop INT TERM
for i in 1 2 3; do
  node dist/bin/journal.js start --config "config/cluster/journal-$i.toml" 2> >(sed -u "s/^/[journal-$i] /" >&2) &
  pids+=("$!")
done
echo "journal cluster: pids ${pids[*]}; Ctrl-C stops it" >&2
wait
