#!/usr/bin/env bash
# Stop and delete the cluster started by scripts/pg-start.sh (reads ANNUAIRE_PGDATA).
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -n "${ANNUAIRE_PGDATA:-}" ] && [ -d "$ANNUAIRE_PGDATA" ] || exit 0
if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$ANNUAIRE_PGDATA" -m immediate stop >/dev/null 2>&1 || true
else
  "$PGBIN/pg_ctl" -D "$ANNUAIRE_PGDATA" -m immediate stop >/dev/null 2>&1 || true
fi
rm -rf "$ANNUAIRE_PGDATA"
