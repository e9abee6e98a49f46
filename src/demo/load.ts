/**
 * Demo data for a first `seedcore serve` on an empty database: a small agent layer (agents,
 * organs with skills, services, a policy and models, linked through the graph's edge
 * tables), a handful of facts, and a few tasks — including graph_embed and graph_rag_query
 * tasks that the in-process dispatcher then runs — so the dashboard shows a working system.
 * Everything is inserted in one transaction with ON CONFLICT DO NOTHING: loading twice
 * changes nothing but the tasks, and `serve` only loads into an empty database.
 */
import type { Db, Queryable } from '../db/types.js';
import { TaskCoordinator } from '../tasks/coordinator.js';

export interface DemoSummary {
  agents: number;
  organs: number;
  facts: number;
  tasks: string[];
}

/** True when the database holds no tasks and no agents (a first run). */
export async function isEmptyDatabase(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM tasks) AND NOT EXISTS (SELECT 1 FROM agent_registry) AS empty`);
  return rows[0]?.empty === true;
}

const AGENTS: Array<[string, string, string]> = [
  ['planner', 'Planner', 'gpt-4o-mini'],
  ['researcher', 'Researcher', 'gpt-4o-mini'],
  ['critic', 'Critic', 'claude-haiku'],
];
// organ id, owning agent, kind, skills, services, policy
const ORGANS: Array<[string, string, string, string[], string[]]> = [
  ['cognitive_organ_1', 'planner', 'reasoner', ['plan-route', 'summarize'], ['llm-gateway']],
  ['retrieval_organ_1', 'researcher', 'retriever', ['retrieve', 'embed'], ['vector-store', 'web-search']],
  ['actuator_organ_1', 'critic', 'actuator', ['review'], ['llm-gateway']],
];
const FACTS: Array<[string, string[]]> = [
  ['The planner agent decomposes goals into graph tasks and hands them to organs.', ['demo', 'agents']],
  ['The retrieval organ embeds the graph neighbourhood and answers graph RAG queries.', ['demo', 'graph']],
  ['Tasks are claimed with FOR UPDATE SKIP LOCKED and leased; expired leases are recovered.', ['demo', 'tasks']],
  ['Node embeddings are 128-dimensional vectors searched with pgvector.', ['demo', 'graph', 'vectors']],
  ['Instances heartbeat into the runtime registry; a dead instance is never revived.', ['demo', 'registry']],
  ['The critic agent reviews results before they are written back as facts.', ['demo', 'agents']],
];

export async function loadDemoData(db: Db): Promise<DemoSummary> {
  return db.transaction(async (tx) => {
    for (const [id, name, model] of AGENTS) {
      await tx.query(`INSERT INTO agent_registry (agent_id, display_name, props) VALUES ($1, $2, '{"demo": true}') ON CONFLICT DO NOTHING`, [id, name]);
      await tx.query(`INSERT INTO model (model_name) VALUES ($1) ON CONFLICT DO NOTHING`, [model]);
      await tx.query(`INSERT INTO agent_uses_model (agent_id, model_name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [id, model]);
    }
    await tx.query(
      `INSERT INTO agent_collab_agent (src_agent, dst_agent) VALUES ('planner', 'researcher'), ('researcher', 'critic'), ('critic', 'planner') ON CONFLICT DO NOTHING`,
    );
    await tx.query(`INSERT INTO policy (policy_name, meta) VALUES ('safety-v1', '{"demo": true}') ON CONFLICT DO NOTHING`);
    for (const [organ, agent, kind, skills, services] of ORGANS) {
      await tx.query(`INSERT INTO organ_registry (organ_id, agent_id, kind, props) VALUES ($1, $2, $3, '{"demo": true}') ON CONFLICT DO NOTHING`, [
        organ,
        agent,
        kind,
      ]);
      await tx.query(`INSERT INTO agent_member_of_organ (agent_id, organ_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [agent, organ]);
      await tx.query(`INSERT INTO organ_governed_by_policy (organ_id, policy_name) VALUES ($1, 'safety-v1') ON CONFLICT DO NOTHING`, [organ]);
      for (const skill of skills) {
        await tx.query(`INSERT INTO skill (skill_name) VALUES ($1) ON CONFLICT DO NOTHING`, [skill]);
        await tx.query(`INSERT INTO organ_provides_skill (organ_id, skill_name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [organ, skill]);
      }
      for (const service of services) {
        await tx.query(`INSERT INTO service (service_name) VALUES ($1) ON CONFLICT DO NOTHING`, [service]);
        await tx.query(`INSERT INTO organ_uses_service (organ_id, service_name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [organ, service]);
      }
    }
    let facts = 0;
    for (const [text, tags] of FACTS) {
      const r = await tx.query(
        `INSERT INTO facts (text, tags, meta_data)
         SELECT $1, $2::text[], '{"source": "demo"}' WHERE NOT EXISTS (SELECT 1 FROM facts WHERE text = $1)`,
        [text, tags],
      );
      facts += r.rowCount;
    }
    // Graph tasks through the SQL creators of migration 003 (they also link agent and organ and map
    // the task into the graph). Start from the agents' graph nodes, assigned by the edges above.
    const { rows: agentNodes } = await tx.query<{ node_id: string }>(
      `SELECT node_id::text FROM graph_node_map WHERE node_type = 'agent' AND ext_text_id = ANY($1::text[]) ORDER BY node_id`,
      [AGENTS.map((a) => a[0])],
    );
    const starts = agentNodes.map((r) => r.node_id);
    const tasks: string[] = [];
    const embed = await tx.query<{ id: string }>(
      `SELECT create_graph_embed_task_v2($1::bigint[], 2, 'Embed the agent layer (demo)', 'researcher', 'retrieval_organ_1') AS id`,
      [starts],
    );
    tasks.push(embed.rows[0]!.id);
    // Tie the knowledge base into the graph: the embed task read the graph facts (these
    // edges give the facts graph nodes). The RAG question seeds from facts by text and waits
    // for the embedding (a dependency: it stays `created` until graph_embed completes), so
    // its answer comes back with the linked facts and highlighted snippets.
    await tx.query(
      `INSERT INTO task_reads_fact (task_id, fact_id)
       SELECT $1::uuid, f.id FROM facts f WHERE f.meta_data @> '{"source": "demo"}' AND f.tags @> ARRAY['graph'] ON CONFLICT DO NOTHING`,
      [embed.rows[0]!.id],
    );
    const rag = await new TaskCoordinator(db).submit(
      {
        type: 'graph_rag_query',
        description: 'What does the graph know about embeddings? (demo)',
        params: { query: 'embeddings or neighbourhood', k: 2, topk: 5 },
        dependsOn: [embed.rows[0]!.id],
        agentId: 'planner',
        organId: 'cognitive_organ_1',
      },
      { tx },
    );
    tasks.push(rag.id);
    for (const t of DEMO_TASKS) {
      const r = await tx.query<{ id: string }>(`INSERT INTO tasks (type, status, description, params) VALUES ($1, 'queued', $2, $3::jsonb) RETURNING id`, [
        t.type,
        t.description,
        JSON.stringify(t.params),
      ]);
      tasks.push(r.rows[0]!.id);
    }
    return { agents: AGENTS.length, organs: ORGANS.length, facts, tasks };
  });
}

/** Ordinary tasks of the built-in types, so the dashboard shows more than graph work. */
export const DEMO_TASKS: Array<{ type: string; description: string; params: Record<string, unknown> }> = [
  { type: 'echo', description: 'Say hello (demo)', params: { message: 'hello from SeedCore' } },
  { type: 'sleep', description: 'Wait two seconds (demo)', params: { ms: 2000 } },
  { type: 'noop', description: 'Do nothing (demo)', params: {} },
];
