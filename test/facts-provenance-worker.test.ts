import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { addFact, createTaskFacts, getFactProvenance } from '../src/facts/index.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import type { TaskHandler } from '../src/tasks/types.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { startDispatcher, taskRow, waitFor } from './helpers/tasks.js';

for (const kind of BACKENDS) {
  describe(`facts provenance through the dispatcher (${kind})`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
    });
    after(async () => t.cleanup());

    it('a handler producing facts through ctx.facts records task, agent and organ, and derivedFrom chains three tasks', async () => {
      const root = await addFact(t.db, { text: 'Storm warning for the coast tonight', sources: [{ kind: 'uri', ref: 'https://weather.example.org/w/1' }] });
      // Each task derives one fact from the fact its dependency produced (the root for the first).
      const derive: TaskHandler = async (task, ctx) => {
        const after1 = task.params.after as string | undefined;
        const from = after1
          ? ((await ctx.db.query<{ id: string }>('SELECT fact_id::text AS id FROM task_produces_fact WHERE task_id = $1', [after1])).rows[0]?.id as string)
          : root.id;
        const [premise] = await ctx.facts.read([from]);
        const made = await ctx.facts.produce({ text: `${task.params.text as string}`, derivedFrom: [premise?.id as string], confidence: 0.75 });
        return { fact: made.id };
      };
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      const texts = ['Boats should stay in the harbour', 'The evening ferry is cancelled', 'Tell passengers to rebook'];
      await new TaskCoordinator(t.db).submitMany(
        ids.map((id, i) => ({
          id,
          type: 'derive',
          params: { text: texts[i], ...(i > 0 ? { after: ids[i - 1] } : {}) },
          agentId: `agent-${i}`,
          organId: `organ-${i}`,
          ...(i > 0 ? { dependsOn: [ids[i - 1] as string] } : {}),
        })),
      );
      const d = await startDispatcher(t.db, { handlers: { derive }, taskFacts: createTaskFacts });
      try {
        await waitFor('three derivations', async () => (await taskRow(t.db, ids[2] as string)).status === 'completed', 20_000);
      } finally {
        await d.stop({ graceMs: 0 });
      }
      const last = ((await taskRow(t.db, ids[2] as string)).result as { fact: string }).fact;
      const p = await getFactProvenance(t.db, last);
      assert.deepEqual(
        p.sources.map((s) => `${s.kind}:${s.ref}`),
        [`task:${ids[2]}`, 'agent:agent-2', 'organ:organ-2'],
      );
      assert.deepEqual(
        p.derived_from.map((s) => [s.fact.text, s.depth, s.sources.map((x) => `${x.kind}:${x.ref}`)]),
        [
          [texts[1], 1, [`task:${ids[1]}`, 'agent:agent-1', 'organ:organ-1']],
          [texts[0], 2, [`task:${ids[0]}`, 'agent:agent-0', 'organ:organ-0']],
          [root.text, 3, ['uri:https://weather.example.org/w/1']],
        ],
      );
      assert.equal(p.fact.confidence, 0.75);
    });
  });
}
