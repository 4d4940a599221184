#!/usr/bin/env bash
# Starts a whole local cluster in the foreground: three placement nodes (placement-{1,2,3}.toml),
# three journal nodes (journal-{1,2,3}.toml) and two brokers (broker-{1,2}.toml) that act as one
# MQTT broker on 127.0.0.1:1883 and 127.0.0.1:1884. Ctrl-C (or SIGTERM) stops everything.
#
#   config/cluster/start-cluster.sh
#   mosquitto_sub -h 127.0.0.1 -p 1884 -t 'demo/#' -q 1 &
#   mosquitto_pub -h 127.0.0.1 -p 1883 -t demo/hello -m 'crossed brokers' -q 1
#
# The brokers keep their sessions in the journal nodes (storage.driver = "journal", one shard
# prefix per broker, three replicas): kill a broker and the other adopts its sessions.
# Data goes to ./data/cluster/ under the repository; delete it to start afresh.
source "$(dirname "$0")/nodes.sh"
for i in 1 2 3; do start placement "placement-$i"; done
for i in 1 2 3; do start journal "journal-$i"; done
# The brokers open their journal shards at start-up: give the journal nodes a moment to register.
sleep 2
for i in 1 2; do start broker "broker-$i"; done
echo "cluster: pids ${pids[*]}; MQTT on 127.0.0.1:1883 and :1884; Ctrl-C stops it" >&2
wait
