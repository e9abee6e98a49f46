/**
 * The dashboard: plain HTML, CSS and JS served from src/server/dashboard (tsc does not copy
 * non-TS files, so they are read from the package's source path; package.json "files"
 * ships that folder). Read once at start-up; open without a token because they hold no data.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PACKAGE_ROOT } from '../paths.js';

export const DASHBOARD_DIR = join(PACKAGE_ROOT, 'src', 'server', 'dashboard');

const FILES: Array<{ url: string; file: string; type: string }> = [
  { url: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/dashboard/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { url: '/dashboard/graph.js', file: 'graph.js', type: 'text/javascript; charset=utf-8' },
  { url: '/dashboard/style.css', file: 'style.css', type: 'text/css; charset=utf-8' },
  { url: '/dashboard/favicon.svg', file: 'favicon.svg', type: 'image/svg+xml' },
];

export function registerDashboard(app: FastifyInstance): void {
  // Browsers ask for /favicon.ico whatever the page links; answer without an error.
  app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/dashboard/favicon.svg', 301));
  for (const f of FILES) {
    const content = readFileSync(join(DASHBOARD_DIR, f.file));
    app.get(f.url, { schema: { hide: true } }, async (_req, reply) => {
      void reply
        .header('content-type', f.type)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        // Everything the page loads comes from this server; nothing may frame it.
        .header('content-security-policy', "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
      return content;
    });
  }
}
