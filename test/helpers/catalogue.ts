import type { Queryable } from '../../src/db/types.js';

/**
 * A comparable description of the public schema: columns, indexes, functions, views, enums,
 * triggers and constraints. Two databases with equal snapshots have the same catalogue.
 * Constraints PostgreSQL derives for partitions (conparentid <> 0, e.g. the foreign keys into
 * facts' partitions) are left out: PostgreSQL 15 and 17 name them differently.
 */
export async function catalogueSnapshot(db: Queryable): Promise<Record<string, string[]>> {
  const q = async (sql: string): Promise<string[]> => (await db.query<{ x: string }>(sql)).rows.map((r) => r.x).sort();
  return {
    columns: await q(
      "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') AS x FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> 'seedcore_migrations'",
    ),
    indexes: await q("SELECT indexname || ' ' || indexdef AS x FROM pg_indexes WHERE schemaname = current_schema() AND tablename <> 'seedcore_migrations'"),
    functions: await q(
      "SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') ' || pg_get_function_result(p.oid) AS x FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()",
    ),
    views: await q(
      "SELECT table_name || ' ' || string_agg(column_name, ',' ORDER BY ordinal_position) AS x FROM information_schema.columns WHERE table_schema = current_schema() AND table_name IN (SELECT table_name FROM information_schema.views WHERE table_schema = current_schema()) GROUP BY table_name",
    ),
    enums: await q(
      "SELECT t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS x FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname",
    ),
    triggers: await q(
      "SELECT c.relname || ' ' || t.tgname AS x FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND n.nspname = current_schema()",
    ),
    constraints: await q(
      "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS x FROM pg_constraint WHERE connamespace = current_schema()::regnamespace AND contype <> 'n' AND conrelid <> 0 AND conparentid = 0 AND conrelid::regclass::text <> 'seedcore_migrations'",
    ),
  };
}
