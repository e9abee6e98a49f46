/**
 * The dashboard: plain HTML, CSS and ES modules served from src/server/dashboard (tsc does not
 * copy non-TS files, so they are read from the package's source path; package.json "files"
 * ships that folder). No build step: the browser loads the modules as they are. Every file is
 * read once at start-up; they open without a token because they hold no data. Deep links
 * (/#/tasks/…) are hash routes, so only `/` serves the page.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PACKAGE_ROOT } from '../paths.js';

export const DASHBOARD_DIR = join(PACKAGE_ROOT, 'src', 'server', 'dashboard');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? listFiles(join(dir, d.name)) : [join(dir, d.name)]));
}

/** url → file for every servable file of the dashboard folder; `/` is index.html. */
export function dashboardFiles(): Array<{ url: string; file: string; type: string }> {
  const out: Array<{ url: string; file: string; type: string }> = [];
  for (const file of listFiles(DASHBOARD_DIR)) {
    const type = TYPES[extname(file)];
    if (!type) continue;
    const rel = relative(DASHBOARD_DIR, file).split(sep).join('/');
    out.push({ url: rel === 'index.html' ? '/' : `/dashboard/${rel}`, file, type });
  }
  return out;
}

export function registerDashboard(app: FastifyInstance): void {
  // Browsers ask for /favicon.ico whatever the page links; answer without an error.
  app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/dashboard/favicon.svg', 301));
  for (const f of dashboardFiles()) {
    const content = readFileSync(f.file);
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
