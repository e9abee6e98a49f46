-- 023: time-ordered task ids.
--
-- New tasks get a UUIDv7 (RFC 9562: 48 bits of Unix milliseconds, then random bits) generated
-- in SQL, so a plain `INSERT INTO tasks (type) VALUES (…)` gets one too. A task's primary-key
-- entry is then written next to the entries of the tasks created just before it instead of at
-- a random leaf: a claim of hundreds of consecutive tasks, and the completion that follows,
-- touch a few primary-key pages instead of one per task (and a few full-page images after a
-- checkpoint instead of one per leaf), and idx_task_runs_task, keyed by task id, grows at its
-- end as well. The SeedCore library generates the same layout (src/tasks/ids.ts).
--
-- Ids given by a client are still accepted (any UUID version): the default applies only when
-- no id is given. Existing ids are not changed.
--
-- seedcore_uuidv7() rather than uuidv7(): PostgreSQL 18 (and PGlite 0.5, which is 18) has a
-- built-in uuidv7(), older servers have none. Where the built-in exists the function calls it
-- (C code; ids made in one session are strictly increasing even within a millisecond);
-- elsewhere it builds the same layout in SQL from gen_random_uuid() (PostgreSQL 13+).
--
-- Idempotent: CREATE OR REPLACE of one function and SET DEFAULT of one column.
BEGIN;

DO $$
BEGIN
  IF to_regprocedure('pg_catalog.uuidv7()') IS NOT NULL THEN
    CREATE OR REPLACE FUNCTION seedcore_uuidv7()
    RETURNS uuid
    LANGUAGE sql
    VOLATILE PARALLEL SAFE
    AS 'SELECT pg_catalog.uuidv7()';
  ELSE
    -- The random UUID's first 6 bytes replaced by the millisecond timestamp (big-endian), and
    -- its version nibble 0100 turned into 0111 (bits 52 and 53); the variant bits stay 10.
    CREATE OR REPLACE FUNCTION seedcore_uuidv7()
    RETURNS uuid
    LANGUAGE sql
    VOLATILE PARALLEL SAFE
    AS $f$
      SELECT encode(
               set_bit(set_bit(
                 overlay(uuid_send(gen_random_uuid())
                         PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                         FROM 1 FOR 6),
                 52, 1), 53, 1),
               'hex')::uuid
    $f$;
  END IF;
END
$$;

COMMENT ON FUNCTION seedcore_uuidv7() IS
  'A UUIDv7 (RFC 9562): Unix milliseconds in the first 48 bits, random bits after; the default id of new tasks.';

ALTER TABLE tasks ALTER COLUMN id SET DEFAULT seedcore_uuidv7();

COMMIT;
