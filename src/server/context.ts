import type { Db } from '../db/types.js';
import type { SeedCore } from '../seedcore.js';
import type { EventHub } from './events.js';
import type { Features } from './library-routes.js';
import type { ServerMetrics } from './metrics.js';

/** What route modules get: the SeedCore facade, its database, metrics and the event hub. */
export interface ServerContext {
  core: SeedCore;
  db: Db;
  metrics: ServerMetrics;
  events: EventHub;
  /** Library-backed route groups that are wired. */
  features: Features;
  shuttingDown(): boolean;
}
