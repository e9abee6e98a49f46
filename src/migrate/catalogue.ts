/**
 * What the schema promises: the objects of the original SeedCore's schema, with our changes
 * applied, and those later migrations add. `seedcore verify` checks a live database against
 * this list.
 */

export const EXPECTED_TABLES = [
  'tasks',
  'graph_embeddings',
  'graph_node_map',
  'agent_registry',
  'organ_registry',
  'artifact',
  'capability',
  'memory_cell',
  'model',
  'policy',
  'service',
  'skill',
  'facts',
  'cluster_metadata',
  'registry_instance',
  // 013: recurring tasks and per-queue concurrency limits
  'task_schedules',
  'queue_limits',
  // 018: durable runs
  'task_runs',
  'task_checkpoints',
  'task_events',
  'task_waits',
  // 18 edge tables (the 18th, fact_derives_from_fact, comes with 019's provenance tables)
  'task_depends_on_task',
  'task_produces_artifact',
  'task_uses_capability',
  'task_reads_memory',
  'task_writes_memory',
  'organ_provides_capability',
  'agent_owns_memory_cell',
  'task_executed_by_organ',
  'task_owned_by_agent',
  'agent_member_of_organ',
  'agent_collab_agent',
  'organ_provides_skill',
  'organ_uses_service',
  'organ_governed_by_policy',
  'agent_uses_model',
  'task_reads_fact',
  'task_produces_fact',
  'fact_derives_from_fact',
  // 019: fact versions, sources, conflicts and resolution policies
  'fact_versions',
  'fact_sources',
  'fact_conflicts',
  'fact_predicate_policies',
  // 028: one row per (subject, predicate) group, written by every writer of the group
  'fact_groups',
] as const;

export const EXPECTED_VIEWS = ['graph_tasks', 'task_embeddings', 'hgnn_edges', 'active_instances', 'active_instance'] as const;

/** Function signatures as `to_regprocedure` accepts them. */
export const EXPECTED_FUNCTIONS = [
  'create_graph_embed_task(bigint[],integer,text)',
  'create_graph_rag_task(bigint[],integer,integer,text)',
  'create_graph_embed_task_v2(bigint[],integer,text,text,text)',
  'create_graph_rag_task_v2(bigint[],integer,integer,text,text,text)',
  'cleanup_stale_running_tasks(integer,integer)',
  'backfill_task_nodes()',
  'ensure_task_node(uuid)',
  'ensure_agent_node(text)',
  'ensure_organ_node(text)',
  'ensure_artifact_node(uuid)',
  'ensure_capability_node(uuid)',
  'ensure_memory_cell_node(uuid)',
  'ensure_fact_node(uuid)',
  'ensure_model_node(text)',
  'ensure_policy_node(text)',
  'ensure_service_node(text)',
  'ensure_skill_node(text)',
  'set_current_epoch(uuid)',
  'register_instance(uuid,text,uuid,text,text,text,inet,integer)',
  'set_instance_status(uuid,instancestatus)',
  'beat(uuid)',
  'expire_stale_instances(integer)',
  'expire_old_epoch_instances()',
  'update_tasks_updated_at()',
  'update_graph_embeddings_updated_at()',
  'update_graph_node_map_updated_at()',
  'update_timestamps()',
  'update_facts_updated_at()',
  // 018: durable runs (run history, steps, sleeps, events, child tasks)
  'tasks_clear_waiting_for()',
  'tasks_durable_transitions()',
  'tasks_delete_runs()',
  'wake_task_parents(uuid[])',
  'suspend_task(uuid,text,timestamp with time zone,text)',
  'save_task_checkpoint(uuid,text,text,jsonb)',
  'sleep_task(uuid,text,text,double precision,timestamp with time zone)',
  'emit_task_event(text,jsonb)',
  'await_task_event(uuid,text,text,double precision)',
  'spawn_child_task(uuid,text,text,text,jsonb,jsonb)',
  'await_child_tasks(uuid,text,uuid[])',
  // 019: fact versions and conflict detection
  'facts_keep_version()',
  'facts_track_conflicts()',
  'facts_lock_group(text,text)',
  'facts_refresh_group(text,text)',
  // 020: the worker protocol for clients in any language, and the jsonb -> vector cast
  'claim_tasks(text,integer,double precision,text[],text[],double precision)',
  'renew_task_leases(text,uuid[],double precision)',
  'complete_task(uuid,text,jsonb)',
  'complete_tasks(text,jsonb)',
  'release_task(uuid,text)',
  'fail_task(uuid,text,text,double precision,integer)',
  'cancel_task(uuid,text)',
  'recover_stale_tasks(integer,integer,boolean)',
  'expire_tasks(integer)',
  'promote_task_dependents(uuid[])',
  'cancel_task_dependents(uuid[])',
  'jsonb_to_vector(jsonb)',
  // 023: time-ordered task ids (the default of tasks.id)
  'seedcore_uuidv7()',
  // 021: capability routing (versions, requirements, the 8-argument claim for organs)
  'version_key(text)',
  'version_satisfies(text,text)',
  'capability_constraints_valid(text[])',
  'capability_requirements_met(text[],text[],text[])',
  'organ_is_live(text)',
  'task_route_missing(text,text[])',
  'claim_tasks(text,integer,double precision,text[],text[],double precision,text,text[])',
  // 026: the migration helper that later migrations build their indexes with
  'seedcore_ensure_index(text,text)',
  // 027: the one claim statement that claim_tasks() and the TypeScript dispatcher both run
  'claim_tasks_core(text,integer,double precision,text[],text[],double precision,text,text[],text[],uuid,text[])',
  // 028: facts search (confidence bands in the text index, the serial-plan marker)
  'facts_confidence_bands(double precision)',
  'facts_search_serial()',
  // 029: the one body of the ensure_<type>_node helpers
  'seedcore_ensure_node(text,text,uuid,text)',
  // 030: the registry's and the graph's functions that the task area reaches their tables through
  'registry_dead_instance_ids()',
  'graph_linked_task_ids()',
  'graph_register_agents(text[])',
  'graph_register_organs(text[],text[])',
  'graph_link_task_capabilities(uuid[],text[],text[])',
] as const;

export const EXPECTED_ENUMS: Record<string, readonly string[]> = {
  taskstatus: ['created', 'queued', 'running', 'completed', 'failed', 'cancelled', 'retry'],
  instancestatus: ['starting', 'alive', 'draining', 'dead'],
  taskpriority: ['critical', 'high', 'normal', 'low'],
};

/** The 18 edge types of hgnn_edges: name → source table. */
export const EDGE_TYPES: Record<string, string> = {
  task__depends_on__task: 'task_depends_on_task',
  task__produces__artifact: 'task_produces_artifact',
  task__uses__capability: 'task_uses_capability',
  task__reads__memory_cell: 'task_reads_memory',
  task__writes__memory_cell: 'task_writes_memory',
  task__executed_by__organ: 'task_executed_by_organ',
  task__owned_by__agent: 'task_owned_by_agent',
  agent__member_of__organ: 'agent_member_of_organ',
  agent__collab__agent: 'agent_collab_agent',
  organ__provides__skill: 'organ_provides_skill',
  organ__uses__service: 'organ_uses_service',
  agent__uses__model: 'agent_uses_model',
  organ__governed_by__policy: 'organ_governed_by_policy',
  task__reads__fact: 'task_reads_fact',
  task__produces__fact: 'task_produces_fact',
  organ__provides__capability: 'organ_provides_capability',
  agent__owns__memory_cell: 'agent_owns_memory_cell',
  fact__derives_from__fact: 'fact_derives_from_fact',
};

/** Indexes the query paths rely on (the original schema promises status, type, domain and claim indexes). */
export const EXPECTED_INDEXES = [
  'idx_tasks_claim',
  'idx_tasks_claim_routed',
  'idx_tasks_running',
  'idx_tasks_status',
  'idx_tasks_created_at',
  'idx_tasks_type',
  'idx_tasks_domain',
  'idx_tasks_dedup',
  'idx_tasks_expires',
  'idx_tasks_parent',
  'idx_tasks_waiting',
  'idx_task_runs_task',
  'idx_graph_embeddings_emb',
  'idx_facts_text_search',
  'idx_facts_tags',
  'idx_facts_meta_data',
] as const;

export const EXPECTED_TRIGGERS: Record<string, string> = {
  trigger_tasks_updated_at: 'tasks',
  trg_tasks_notify_insert: 'tasks',
  trg_graph_embeddings_updated_at: 'graph_embeddings',
  trg_graph_node_map_updated_at: 'graph_node_map',
  trg_agent_registry_updated_at: 'agent_registry',
  trg_organ_registry_updated_at: 'organ_registry',
  trg_model_updated_at: 'model',
  trg_policy_updated_at: 'policy',
  trg_service_updated_at: 'service',
  trg_skill_updated_at: 'skill',
  trigger_facts_updated_at: 'facts',
  trg_facts_keep_version: 'facts',
  trg_facts_conflicts_insert: 'facts',
  trg_facts_conflicts_update: 'facts',
};

/** The original SeedCore's "Verification Queries", run verbatim. */
export const SEED_VERIFICATION_QUERIES = [
  "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  'SELECT DISTINCT edge_type FROM hgnn_edges',
  'SELECT status, COUNT(*) FROM tasks GROUP BY status',
  'SELECT * FROM active_instances',
  'SELECT node_type, COUNT(*) FROM graph_node_map GROUP BY node_type',
] as const;
