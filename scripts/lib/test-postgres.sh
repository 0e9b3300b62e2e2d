#!/usr/bin/env bash
# A private PostgreSQL server for tests: its own data directory, socket directory and log under
# DIR, listening on 127.0.0.1 on a free port, with settings that trade durability for speed
# (fsync off: a test database is thrown away). Nothing outside DIR is touched.
#
#   test-postgres.sh start DIR   initialise and start; prints the superuser's URL
#                                (postgres://postgres@127.0.0.1:PORT/postgres) once it serves
#   test-postgres.sh stop DIR    stop it and remove DIR
#   test-postgres.sh serve DIR   start, print the URL, then run until standard input closes
#                                (or SIGINT/SIGTERM/SIGHUP) and stop: the store's Rust tests
#                                hold its standard input, so the server ends with them
#
# The server binaries are found in $ORIEL_PG_BIN, else /usr/lib/postgresql/*/bin (the newest),
# else through pg_config; Debian's `postgresql` package has them (scripts/test.sh installs it).
# PostgreSQL refuses to run as root: run as root, the script runs the server as the `postgres`
# user (made by that package), or `nobody` when there is none.
set -euo pipefail

die() {
  echo "test-postgres: $*" >&2
  exit 1
}

[ $# -eq 2 ] || die "usage: $0 start|stop|serve DIR"
command="$1"
dir="$2"
marker="$dir/.oriel-test-postgres"

find_bin() {
  local candidate
  if [ -n "${ORIEL_PG_BIN:-}" ]; then
    echo "$ORIEL_PG_BIN"
    return
  fi
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$candidate/postgres" ] && [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
      echo "$candidate"
      return
    fi
  done
  if command -v pg_config >/dev/null 2>&1; then
    pg_config --bindir
    return
  fi
  echo ""
}

bin="$(find_bin)"
if [ -z "$bin" ] || [ ! -x "$bin/postgres" ] || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
  die "PostgreSQL server binaries (postgres, initdb, pg_ctl) not found${bin:+ in $bin}: install Debian's postgresql package (scripts/test.sh does: apt-get install postgresql) or set ORIEL_PG_BIN to their directory"
fi

# as_server CMD...: runs CMD as the user the server runs as.
as_server() {
  if [ "$(id -u)" -ne 0 ]; then
    "$@"
    return
  fi
  local user=postgres
  id -u "$user" >/dev/null 2>&1 || user=nobody
  setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups \
    env HOME="$dir" "$@"
}

server_user() {
  if [ "$(id -u)" -ne 0 ]; then
    id -un
  elif id -u postgres >/dev/null 2>&1; then
    echo postgres
  else
    echo nobody
  fi
}

port_taken() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
  touch "$marker"
  chown "$(server_user)" "$dir"
  chmod 700 "$dir"
  as_server "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1 || die "initdb failed: $(cat "$dir/initdb.log")"
  local attempt port
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((15000 + RANDOM % 5000))
    port_taken "$port" && continue
    if as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 -s \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null 2>&1; then
      echo "postgres://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
    # A port taken meanwhile is tried again with another; anything else is an error.
    grep -q "could not bind\|Address already in use" "$dir/postgres.log" 2>/dev/null ||
      die "the server did not start: $(tail -20 "$dir/postgres.log" 2>/dev/null)"
  done
  die "no free port found for the server after $attempt tries"
}

stop() {
  [ -f "$marker" ] || return 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 20 -s stop >/dev/null 2>&1 || {
      local pid
      pid="$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)"
      [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null || true
      sleep 1
    }
  fi
  rm -rf "$dir"
}

case "$command" in
  start) start ;;
  stop) stop ;;
  serve)
    reader=""
    trap 'stop; [ -z "$reader" ] || kill "$reader" 2>/dev/null || true' EXIT
    trap 'exit 0' INT TERM HUP
    start
    # Whoever started this may be gone when it stops: write nothing more to its pipes.
    exec 3<&0 >/dev/null 2>>"$dir/serve.log"
    # In the background (so that a signal is handled at once), reading the real standard
    # input: a background command's own would be /dev/null.
    cat <&3 >/dev/null &
    reader=$!
    wait "$reader" || true
    ;;
  *) die "unknown command $command: start, stop or serve" ;;
esac
