# Sourced by .ci/run: installs the system packages a fresh machine lacks, and starts the local
# services the tests talk to.

# Installs Debian/Ubuntu packages, through sudo when not root.
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@" >/dev/null
}

# What building needs besides Rust: curl (to fetch rustup) and a C compiler (`ring`, under
# rustls, compiles C in its build script).
ensure_build_tools() {
  local missing=()
  command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
  command -v cc >/dev/null 2>&1 || missing+=(build-essential)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from the system's packages"
    apt_install "${missing[@]}"
  fi
}

# Redis on 127.0.0.1:6379, as the README documents. The redis-server binary is installed
# even when a Redis already answers: the fault tests start private servers of their own.
ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "installing redis-server from the system's packages"
    apt_install redis-server
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
