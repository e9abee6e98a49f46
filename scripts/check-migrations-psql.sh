#!/usr/bin/env bash
# Checks every file in migrations/ with psql against a PostgreSQL server (with pgvector):
#
#   1. fresh database: apply them all in order with psql -v ON_ERROR_STOP=1 -f;
#   2. apply all of them again: schema and data dumps must be identical;
#   3. re-apply each file alone: schema and data dumps must still be identical (a file some
#      of whose objects later files supersede is followed by those files; see below);
#   4. LEGACY database (tasks.status TEXT with an upper-case CHECK, some rows): apply
#      them all; status must become taskstatus with the values lower-cased, the schema must
#      equal the fresh one, and a second pass must change nothing;
#   5. the committed schema.sql must be what the migrations produce (scripts/dump-schema.sh).
#
# Usage: DATABASE_URL=postgres://user:pass@host:5432/db scripts/check-migrations-psql.sh [dbname]
# The databases it creates (dbname, dbname_legacy) are dropped at the end. Exit 1 on failure.
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL, e.g. postgres://seedcore:seedcore@127.0.0.1:5432/seedcore}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MIGRATIONS=("$ROOT"/migrations/0[0-9][0-9]_*.sql)
[ "${#MIGRATIONS[@]}" -ge 16 ] || { echo "expected at least 16 migrations in $ROOT/migrations" >&2; exit 1; }

DB="${1:-seedcore_migcheck_$$}"
LEGACY_DB="${DB}_legacy"
WORK="$(mktemp -d)"

# URL of another database on the same server (keeps credentials and query parameters).
db_url() {
  local url="$DATABASE_URL" query="" base
  if [[ "$url" == *\?* ]]; then query="?${url#*\?}"; url="${url%%\?*}"; fi
  base="${url#*://}"
  if [[ "$base" == */* ]]; then url="${url%/*}"; fi
  echo "${url}/$1${query}"
}

admin() { PGOPTIONS="-c client_min_messages=warning" psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -c "$1" >/dev/null; }

cleanup() {
  local rc=$?
  admin "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" || true
  admin "DROP DATABASE IF EXISTS \"$LEGACY_DB\" WITH (FORCE)" || true
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Applies one file; its output goes to a log that is shown only when it fails.
apply_file() {
  local url="$1" file="$2"
  if ! psql "$url" -X -q -v ON_ERROR_STOP=1 -f "$file" >"$WORK/psql.log" 2>&1; then
    cat "$WORK/psql.log" >&2
    fail "$(basename "$file") failed on ${url##*/}"
  fi
}
apply_all() { local f; for f in "${MIGRATIONS[@]}"; do apply_file "$1" "$f"; done; }

# A fixed restrict key keeps pg_dump output comparable between runs (newer pg_dump versions
# otherwise write a random \restrict key).
DUMP_OPTS=(--no-owner --no-privileges)
# (No `grep -q` in the pipe: it exits at the first match, pg_dump gets SIGPIPE and pipefail
# turns the match into a failure.)
if [[ "$(pg_dump --help 2>/dev/null)" == *--restrict-key* ]]; then
  DUMP_OPTS+=(--restrict-key=seedcoremigrationcheck)
fi
dump() { # url out-prefix
  pg_dump "${DUMP_OPTS[@]}" --schema-only "$1" >"$2.schema.sql"
  pg_dump "${DUMP_OPTS[@]}" --data-only "$1" >"$2.data.sql"
}
same() { # prefix-a prefix-b what
  local kind
  for kind in schema data; do
    if ! diff -u "$1.$kind.sql" "$2.$kind.sql" >"$WORK/diff.txt"; then
      cat "$WORK/diff.txt"
      fail "$3: $kind dump differs"
    fi
  done
}

URL="$(db_url "$DB")"
LEGACY_URL="$(db_url "$LEGACY_DB")"

echo "== fresh database $DB"
admin "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)"
admin "CREATE DATABASE \"$DB\""
apply_all "$URL"
dump "$URL" "$WORK/first"

echo "== second full pass"
apply_all "$URL"
dump "$URL" "$WORK/second"
same "$WORK/first" "$WORK/second" "second pass"

echo "== each file alone"
# Later files supersede objects of earlier ones: 013 reshapes idx_tasks_claim (defined by
# 001, 004 and 005) and redefines cleanup_stale_running_tasks (006) to honour per-task
# max_attempts, and 017 redefines it again to keep a recovered task's due time; 016 rebuilds
# idx_facts_text_search (009) over the stored vector, tags and metadata and rewrites the
# comments of 009 and 015, and 019 rebuilds the stored vector and redefines hgnn_edges (010)
# with the 18th edge type; 021 makes idx_tasks_claim partial on unrouted tasks and gives
# claim_tasks (020) its routing; 024 redefines complete_tasks (020); 027 redefines claim_tasks
# with an organ (021) as a wrapper of claim_tasks_core; 028 adds the confidence bands to
# idx_facts_text_search (016, 019) and redefines facts_lock_group (019). Applied files are immutable (the runner checks their
# checksums), so re-running one of those alone restores its older definition, and re-running
# the superseding files after it, in order, restores the current one. The check for them is
# "file alone, then its successors"; every other file must be idempotent alone.
declare -A SUPERSEDED_BY=(
  [001_create_tasks_table.sql]="013 017 021 027" [004_fix_taskstatus_enum.sql]="013 017 021 027"
  [005_consolidate_task_schema.sql]="013 017 021 027" [006_add_task_lease_columns.sql]="013 017 021 027"
  [013_task_priority_scheduling.sql]="017 021 027"
  [010_task_fact_integration.sql]="019 028 029" [019_facts_provenance.sql]="028"
  [007_hgnn_graph_schema.sql]="029" [008_hgnn_agent_layer.sql]="029"
  [009_create_facts_table.sql]="016 019 028" [015_facts_search_vector.sql]="016 019 028" [016_facts_search_index.sql]="019 028"
  [018_durable_runs.sql]="031" [020_worker_protocol.sql]="021 024 027" [021_capability_routing.sql]="027"
)
for f in "${MIGRATIONS[@]}"; do
  apply_file "$URL" "$f"
  for next in ${SUPERSEDED_BY[$(basename "$f")]:-}; do
    successor="$(ls "$ROOT"/migrations/"$next"_*.sql 2>/dev/null || true)"
    if [[ -n "$successor" ]]; then apply_file "$URL" "$successor"; fi
  done
  dump "$URL" "$WORK/single"
  same "$WORK/first" "$WORK/single" "re-running $(basename "$f") alone"
done

echo "== legacy database $LEGACY_DB"
admin "DROP DATABASE IF EXISTS \"$LEGACY_DB\" WITH (FORCE)"
admin "CREATE DATABASE \"$LEGACY_DB\""
psql "$LEGACY_URL" -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE tasks (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  status      text NOT NULL DEFAULT 'CREATED'
              CHECK (status IN ('CREATED','QUEUED','RUNNING','COMPLETED','FAILED','CANCELLED','RETRY')),
  attempts    integer NOT NULL DEFAULT 0,
  locked_by   text,
  locked_at   timestamptz,
  run_after   timestamptz,
  type        text NOT NULL,
  description text,
  domain      text,
  drift_score double precision NOT NULL DEFAULT 0.0,
  params      jsonb NOT NULL DEFAULT '{}'::jsonb,
  result      jsonb,
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_tasks_status ON tasks (status);
CREATE INDEX idx_tasks_claim ON tasks (status, run_after, created_at)
  WHERE status IN ('QUEUED', 'FAILED', 'RETRY');
INSERT INTO tasks (status, type) VALUES
  ('QUEUED', 'graph_embed'), ('QUEUED', 'generic'), ('RETRY', 'generic'),
  ('COMPLETED', 'graph_rag_query'), ('CREATED', 'generic');
INSERT INTO tasks (type) VALUES ('generic');
SQL
apply_all "$LEGACY_URL"

got="$(psql "$LEGACY_URL" -X -At -v ON_ERROR_STOP=1 -c "
  SELECT format_type(atttypid, atttypmod) FROM pg_attribute
   WHERE attrelid = 'tasks'::regclass AND attname = 'status';
  SELECT string_agg(status || ':' || n, ',' ORDER BY status)
    FROM (SELECT status::text, count(*) AS n FROM tasks GROUP BY status) s;
  SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef
   WHERE adrelid = 'tasks'::regclass
     AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'tasks'::regclass AND attname = 'status');
  SELECT count(*) FROM graph_tasks;")"
expected="taskstatus
completed:1,created:2,queued:2,retry:1
'created'::taskstatus
2"
[ "$got" = "$expected" ] || fail "legacy conversion: expected
$expected
got
$got"

dump "$LEGACY_URL" "$WORK/legacy"
if ! diff -u "$WORK/first.schema.sql" "$WORK/legacy.schema.sql" >"$WORK/diff.txt"; then
  cat "$WORK/diff.txt"
  fail "legacy database: schema after upgrade differs from a fresh database"
fi

apply_all "$LEGACY_URL"
dump "$LEGACY_URL" "$WORK/legacy2"
same "$WORK/legacy" "$WORK/legacy2" "legacy database, second pass"

echo "== schema.sql"
bash "$ROOT/scripts/dump-schema.sh" --check

echo "OK: ${#MIGRATIONS[@]} migrations apply on a fresh and on a legacy database, and are idempotent; schema.sql is current"
