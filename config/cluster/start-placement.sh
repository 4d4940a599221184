#!/usr/bin/env bash
# Starts a local three-node placement cluster (config/cluster/placement-{1,2,3}.toml) in the
# foreground; Ctrl-C (or SIGTERM) stops all three cleanly. Run from anywhere:
#
#   config/cluster/start-placement.sh
#   robust-ctl placement status --placement 127.0.0.1:1228
#   robust-ctl placement kv set greeting hello --placement 127.0.0.1:1229
#
# Data goes to ./data/cluster/placement-N under the repository; delete it to start afresh.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f dist/bin/placement.js ]; then
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
  node dist/bin/placement.js start --config "config/cluster/placement-$i.toml" 2> >(sed -u "s/^/[placement-$i] /" >&2) &
  pids+=("$!")
done
echo "placement cluster: pids ${pids[*]}; Ctrl-C stops it" >&2
wait
