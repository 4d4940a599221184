# Shared by the start-*.sh scripts here (sourced, not run): builds dist/ when a binary is
# missing, starts nodes in the background with their stderr prefixed by the node's name, and on
# Ctrl-C or SIGTERM stops them in reverse start order (brokers before journal before placement),
# each waited for before the next.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [ ! -f dist/bin/broker.js ] || [ ! -f dist/bin/placement.js ] || [ ! -f dist/bin/journal.js ]; then
  npm run build
fi
pids=()
stop() {
  trap - INT TERM
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; wait "${pids[$i]}" 2>/dev/null || true; done
}
trap stop INT TERM
# start <bin> <config name>: runs dist/bin/<bin>.js with config/cluster/<config name>.toml.
start() {
  local bin=$1 name=$2
  node "dist/bin/$bin.js" start --config "config/cluster/$name.toml" 2> >(sed -u "s/^/[$name] /" >&2) &
  pids+=("$!")
}
