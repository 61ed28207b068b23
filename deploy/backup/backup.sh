#!/usr/bin/env bash
# Dump the database to a custom-format pg_dump file (what the backup CronJob runs).
# Usage: DATABASE_URL=postgres://... deploy/backup/backup.sh [OUT_DIR]   -> prints the file written
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL (postgres://user:password@host:port/dbname)}"
out_dir=${1:-.}
mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
file="$out_dir/halobuzz-$stamp.dump"
pg_dump --format=custom --no-owner --no-privileges --dbname="$DATABASE_URL" --file="$file.partial"
pg_restore --list "$file.partial" >/dev/null   # readable, or fail now rather than at restore time
mv "$file.partial" "$file"
echo "$file"
