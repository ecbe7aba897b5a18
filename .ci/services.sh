# Sourced by .ci/run: starts the local services the tests talk to, installing them if absent.

# Redis on 127.0.0.1:6379, as the README documents. The redis-server binary is installed
# even when a Redis already answers: the fault tests start private servers of their own.
ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "installing redis-server from the system's packages"
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  fi
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    echo "redis answers PING"
    return
  fi
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && { echo "redis started"; return; }
    sleep 0.1
  done
  echo "redis did not answer PING after starting it" >&2
  exit 1
}
