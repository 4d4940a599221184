#!/usr/bin/env bash
# The Debian packages the test suite runs as real peers: mosquitto-clients (interop tests),
# mariadb-server and redis-server (throwaway servers started by the tests on free ports; no system
# service is used), mosquitto (the benchmark's baseline). Installs the missing ones with apt-get
# when run as root; otherwise says which to install. Called by `npm test` (pretest) and .ci/run.
set -u
need=()
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
[ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing test dependencies: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" && exit 0
  echo "apt-get install failed" >&2
  exit 1
fi
echo "missing test dependencies (Debian packages): ${need[*]} — install them with: sudo apt-get install -y ${need[*]}" >&2
exit 1
