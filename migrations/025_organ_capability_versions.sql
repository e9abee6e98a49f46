-- 025: the version an organ provides a capability at.
--
-- A worker that serves as an organ advertises capabilities with dotted-number versions
-- ('2', '1.4.0'). The version belongs to the edge organ__provides__capability, not to the
-- capability: two organs may provide the same capability at different versions, and a task
-- that requires 'summarize>=2' is served by the one whose edge satisfies the constraint.
-- NULL means an edge written without a version (the seed's own clients write none); the
-- routing treats such an edge as version 0.
--
-- Idempotent: ADD COLUMN IF NOT EXISTS, and the check constraint is added only when missing.
BEGIN;

ALTER TABLE organ_provides_capability ADD COLUMN IF NOT EXISTS version text;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint
                  WHERE conrelid = 'organ_provides_capability'::regclass
                    AND conname = 'organ_provides_capability_version_check') THEN
    ALTER TABLE organ_provides_capability
      ADD CONSTRAINT organ_provides_capability_version_check
      CHECK (version IS NULL OR version ~ '^[0-9]{1,9}(\.[0-9]{1,9}){0,7}$');
  END IF;
END
$$;

COMMENT ON COLUMN organ_provides_capability.version IS
  'Dotted-number version (e.g. 2, 1.4.0) at which the organ provides the capability; NULL when the writer gave none.';

COMMIT;
