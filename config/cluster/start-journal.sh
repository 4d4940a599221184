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
source "$(dirname "$0")/nodes.sh"
for i in 1 2 3; do start journal "journal-$i"; done
echo "journal cluster: pids ${pids[*]}; Ctrl-C stops it" >&2
wait
