#!/usr/bin/env bash
# Starts a local three-node placement cluster (config/cluster/placement-{1,2,3}.toml) in the
# foreground; Ctrl-C (or SIGTERM) stops all three cleanly. Run from anywhere:
#
#   config/cluster/start-placement.sh
#   robust-ctl placement status --placement 127.0.0.1:1228
#   robust-ctl placement kv set greeting hello --placement 127.0.0.1:1229
#
# Data goes to ./data/cluster/placement-N under the repository; delete it to start afresh.
source "$(dirname "$0")/nodes.sh"
for i in 1 2 3; do start placement "placement-$i"; done
echo "placement cluster: pids ${pids[*]}; Ctrl-C stops it" >&2
wait
