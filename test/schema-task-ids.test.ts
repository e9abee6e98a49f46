import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { uuidv7 } from '../src/tasks/ids.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

/** Version nibble and the two variant bits of a UUID in text form. */
function layout(id: string): { version: string; variant: number } {
  return { version: id.charAt(14), variant: parseInt(id.charAt(19), 16) >> 2 };
}

/** The Unix milliseconds in the first 48 bits of a UUIDv7. */
function millis(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}

describe('uuidv7 (library)', () => {
  it('has version 7, variant 10 and the given time in its first 48 bits', () => {
    const at = Date.UTC(2026, 11, 1, 12, 0, 0, 123);
    const id = uuidv7(at);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(layout(id), { version: '7', variant: 2 });
    assert.equal(millis(id), at);
  });

  it('orders ids made in later milliseconds after earlier ones, and random bits differ', () => {
    const a = uuidv7(1_000_000);
    const b = uuidv7(1_000_001);
    assert.ok(a < b, `${a} < ${b}`);
    assert.notEqual(uuidv7(5), uuidv7(5));
  });
});

for (const kind of BACKENDS) {
  describe(`time-ordered task ids on ${kind}`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
    });
    after(async () => {
      await t?.cleanup();
    });

    it('a plain INSERT gets a UUIDv7 from the column default, with the server time', async () => {
      const before_ = Date.now();
      const res = await t.db.query<{ id: string }>("INSERT INTO tasks (type, status) VALUES ('ids-a', 'queued'), ('ids-b', 'queued') RETURNING id::text");
      const after_ = Date.now();
      assert.equal(res.rows.length, 2);
      for (const { id } of res.rows) {
        assert.deepEqual(layout(id), { version: '7', variant: 2 }, id);
        // Same machine, so the clocks agree; a second of slack for a loaded machine.
        assert.ok(millis(id) >= before_ - 1000 && millis(id) <= after_ + 1000, `${id}: ${millis(id)} within [${before_}, ${after_}]`);
      }
      const fn = await t.db.query<{ d: string }>(
        "SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'tasks'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'tasks'::regclass AND attname = 'id')",
      );
      assert.equal(fn.rows[0]?.d, 'seedcore_uuidv7()');
    });

    it('ids made later sort after earlier ones', async () => {
      const a = (await t.db.query<{ id: string }>('SELECT seedcore_uuidv7()::text AS id')).rows[0]?.id as string;
      // A later millisecond: the timestamp part of a UUIDv7 is in milliseconds.
      await new Promise((r) => setTimeout(r, 5));
      const b = (await t.db.query<{ id: string }>('SELECT seedcore_uuidv7()::text AS id')).rows[0]?.id as string;
      assert.ok(a < b, `${a} < ${b}`);
    });

    it('submission without an id gets a random id, so a short prefix names one task; a client-given UUIDv7 is kept', async () => {
      const tasks = new TaskCoordinator(t.db);
      const given = uuidv7();
      const [mine, theirs, third] = await tasks.submitMany([{ type: 'ids-c' }, { id: given, type: 'ids-d' }, { type: 'ids-e' }]);
      assert.equal(layout(mine?.id as string).version, '4');
      assert.equal((await tasks.get((mine?.id as string).slice(0, 8))).type, 'ids-c');
      assert.equal((await tasks.get((third?.id as string).slice(0, 8))).type, 'ids-e');
      assert.equal(theirs?.id, given);
      assert.equal((await tasks.get(given)).type, 'ids-d');
    });
  });
}
