#!/usr/bin/env bash
# Idempotent: installs PostgreSQL (if missing), builds pgvector from Debian 13's source package
# (Debian 12 ships none), starts the cluster, creates role + database, prints DATABASE_URL.
# Safe to run many times; every step checks before it acts. Needs root (apt, pg_ctlcluster).
set -euo pipefail

PGDB_NAME="${SEEDCORE_PG_DB:-seedcore}"
PGDB_USER="${SEEDCORE_PG_USER:-seedcore}"
PGDB_PASS="${SEEDCORE_PG_PASSWORD:-seedcore}"
PG_PORT="${SEEDCORE_PG_PORT:-5432}"
log() { echo "[setup-postgres] $*" >&2; }

as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -c "$(printf '%q ' "$@")"; fi; }

# The Debian mirror this machine already uses (first main-archive URI of its apt sources).
debian_mirror() {
  local uri
  uri=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$uri" ] || uri=$(grep -hE '^\s*deb\s' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$uri" ] || { log "no Debian mirror found in /etc/apt"; exit 1; }
  echo "$uri"
}

apt_updated=0
apt_update_once() { if [ $apt_updated = 0 ]; then apt-get update -qq >&2; apt_updated=1; fi; }

# 1. PostgreSQL server + headers for building pgvector.
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing postgresql"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
PG_MAJOR="${SEEDCORE_PG_MAJOR:-$(ls /usr/lib/postgresql | sort -n | tail -1)}"
PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
log "PostgreSQL major version $PG_MAJOR"

# 2. pgvector.
if [ ! -f "/usr/share/postgresql/$PG_MAJOR/extension/vector.control" ]; then
  if [ ! -x "$PG_CONFIG" ] || ! dpkg -s "postgresql-server-dev-$PG_MAJOR" >/dev/null 2>&1; then
    log "installing build dependencies"
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-server-dev-$PG_MAJOR" make gcc dpkg-dev >&2
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/src"
  # A private source list keeps the system's apt configuration untouched.
  mirror=$(debian_mirror)
  echo "deb-src $mirror trixie main" > "$work/sources.list"
  aptopts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$work/lists")
  log "fetching pgvector source (Debian trixie)"
  apt-get "${aptopts[@]}" update -qq >&2
  (cd "$work/src" && apt-get "${aptopts[@]}" source --download-only pgvector >&2)
  tarball=$(ls "$work"/src/pgvector_*.orig.tar.* | head -1)
  tar -xf "$tarball" -C "$work/src"
  srcdir=$(find "$work/src" -maxdepth 1 -type d -name 'pgvector-*' | head -1)
  log "building pgvector in $srcdir"
  make -s -C "$srcdir" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >&2
  make -s -C "$srcdir" PG_CONFIG="$PG_CONFIG" install >&2
fi

# 3. Cluster running.
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" '$1==v' | grep -q .; then
  log "creating cluster $PG_MAJOR/main"
  pg_createcluster "$PG_MAJOR" main --port "$PG_PORT" >&2
fi
if ! pg_lsclusters -h | awk -v v="$PG_MAJOR" '$1==v && $2=="main"' | grep -q online; then
  log "starting cluster $PG_MAJOR/main"
  pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start >&2
fi
for _ in $(seq 1 50); do as_postgres psql -p "$PG_PORT" -Atqc 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done

# 4. Role, database, extension.
psql_su() { as_postgres psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -Atq "$@"; }
if [ "$(psql_su -c "select 1 from pg_roles where rolname='$PGDB_USER'")" != 1 ]; then
  log "creating role $PGDB_USER"
  psql_su -c "create role \"$PGDB_USER\" login superuser password '$PGDB_PASS'"
fi
if [ "$(psql_su -c "select 1 from pg_database where datname='$PGDB_NAME'")" != 1 ]; then
  log "creating database $PGDB_NAME"
  psql_su -c "create database \"$PGDB_NAME\" owner \"$PGDB_USER\""
fi
psql_su -d "$PGDB_NAME" -c "create extension if not exists vector"
log "pgvector $(psql_su -d "$PGDB_NAME" -c "select extversion from pg_extension where extname='vector'") ready"
echo "postgres://$PGDB_USER:$PGDB_PASS@127.0.0.1:$PG_PORT/$PGDB_NAME"
