#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 cluster for tests and print the environment to eval:
#   eval "$(scripts/pg-start.sh)"      ...      scripts/pg-stop.sh
# Installs the Debian package postgresql-15 when the server is missing. Works as root (runs the server as the
# `postgres` user, created when missing) or as a normal user. Listens on 127.0.0.1 only, on PGPORT (default: the
# first free port from 55432). Durability is off: the data is thrown away.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PGBIN/initdb" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2
  else
    echo "PostgreSQL 15 is not installed ($PGBIN/initdb missing): apt-get install postgresql-15" >&2; exit 1
  fi
fi
free_port() {
  local p=$1
  while (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
PGPORT=${PGPORT:-$(free_port 55432)}
PGDATA=${PGDATA:-$(mktemp -d -t annuaire-pg.XXXXXX)}
run() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  chown postgres "$PGDATA"
  run() { runuser -u postgres -- "$@"; }     # initdb and postgres refuse to run as root
fi
chmod 700 "$PGDATA"
run "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
run "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start \
  -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $PGDATA -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2
echo "export ANNUAIRE_PGDATA=$PGDATA"
echo "export ANNUAIRE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PGPORT/postgres"
