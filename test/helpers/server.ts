/** Helpers for the server tests: an app over a fresh test database, and an SSE reader. */
import http from 'node:http';
import type { BackendKind } from '../../src/db/index.js';
import { openSeedCore, type SeedCore } from '../../src/seedcore.js';
import { buildServer, type SeedCoreServer, type ServerOptions } from '../../src/server/app.js';
import { freshDb, type TestDb } from './db.js';

export interface TestServer extends SeedCoreServer {
  core: SeedCore;
  t: TestDb;
  close(): Promise<void>;
}

export async function testServer(kind: BackendKind, options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const t = await freshDb(kind);
  const core = await openSeedCore({ db: t.db, migrate: false });
  const server = await buildServer({ core, apiToken: '', eventsTickMs: 500, ...options });
  return {
    ...server,
    core,
    t,
    async close() {
      await server.app.close();
      await core.close();
      await t.cleanup();
    },
  };
}

export interface SseEvent {
  event: string;
  data: string;
}

/** Open an event stream over a real socket; `next()` resolves with the next event matching `pred`. */
export function openEventStream(url: string): Promise<{ next(pred?: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`event stream answered ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      const queue: SseEvent[] = [];
      let waiter: (() => void) | undefined;
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let idx: number;
        while ((idx = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, idx);
          buffer = buffer.slice(idx + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) queue.push({ event, data: data.join('\n') });
        }
        waiter?.();
      });
      resolve({
        async next(pred = () => true, timeoutMs = 5000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const i = queue.findIndex(pred);
            if (i >= 0) return queue.splice(i, 1)[0] as SseEvent;
            queue.length = 0;
            const left = deadline - Date.now();
            if (left <= 0) throw new Error('no matching event in time');
            await new Promise<void>((r) => {
              const timer = setTimeout(r, left);
              waiter = () => {
                clearTimeout(timer);
                r();
              };
            });
          }
        },
        close() {
          req.destroy();
        },
      });
    });
    req.on('error', reject);
  });
}
