#!/usr/bin/env bash
# Restore a pg_dump (custom format) into a NEW, empty database, then prove it is usable.
#
# Usage: deploy/backup/restore.sh DUMP_FILE TARGET_DATABASE_URL [--audit]
#   TARGET_DATABASE_URL  postgres://user:password@host:port/NEW_DB_NAME (the database must not exist;
#                        the user needs CREATEDB). Restoring over a live database is refused on purpose.
#   --audit              then run `manage.py migrate --check` (schema matches this code) and
#                        `manage.py wallet_audit` against the restored database (needs REDIS_URL and
#                        SECRET_KEY in the environment, as every production-mode manage.py does).
# Exit status: 0 restored (and audited); non-zero otherwise, with the reason on stderr.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,11p' "$0" >&2
  exit 64
fi
dump=$1
target=$2
audit=${3:-}
[ -r "$dump" ] || { echo "cannot read dump $dump" >&2; exit 66; }

base=${target%%\?*}
query=""
[ "$base" != "$target" ] && query="?${target#*\?}"
dbname=${base##*/}
if ! [[ $dbname =~ ^[A-Za-z0-9_]+$ ]]; then
  echo "target database name '$dbname' must be letters, digits and underscores" >&2
  exit 65
fi
maintenance="${base%/*}/postgres$query"

exists=$(psql "$maintenance" -v ON_ERROR_STOP=1 -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'")
if [ "$exists" = "1" ]; then
  echo "database $dbname already exists: restore only into a fresh database" >&2
  exit 73
fi
psql "$maintenance" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$dbname\""
echo "created database $dbname" >&2

if ! pg_restore --no-owner --no-privileges --exit-on-error --single-transaction --dbname="$target" "$dump"; then
  echo "pg_restore failed; dropping the half-made database $dbname" >&2
  psql "$maintenance" -qc "DROP DATABASE IF EXISTS \"$dbname\"" || true
  exit 1
fi
echo "restored $dump into $dbname" >&2

if [ "$audit" = "--audit" ]; then
  cd "$(dirname "$0")/../.."
  python=${PYTHON:-python}
  [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && python=.venv/bin/python
  DATABASE_URL=$target "$python" manage.py migrate --check
  DATABASE_URL=$target "$python" manage.py wallet_audit
fi
