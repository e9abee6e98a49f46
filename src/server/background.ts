/**
 * Background work `seedcore serve` runs in-process, from the libraries that provide it:
 * a task dispatcher (with the built-in handlers) and the registry heartbeat + reconciler.
 * Each piece starts only when its library is present on the SeedCore facade.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { SeedCore } from '../seedcore.js';
import type { SeedCoreServer } from './app.js';

export interface Background {
  /** What is running, e.g. ['dispatcher', 'registry']. */
  features: string[];
  stop(): Promise<void>;
}

export async function startBackground(_core: SeedCore, _server: SeedCoreServer, _url: string, _log: FastifyBaseLogger): Promise<Background> {
  const stops: Array<() => Promise<void>> = [];
  const features: string[] = [];
  return {
    features,
    async stop() {
      // Reverse order of start: the dispatcher drains before the registry deregisters.
      for (const stop of stops.reverse()) await stop();
    },
  };
}
