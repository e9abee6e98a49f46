/**
 * Bearer-token auth for /api routes. When a token is configured every /api request must
 * carry `Authorization: Bearer <token>`. Server-sent events cannot set headers from a
 * browser's EventSource, so /api/events also accepts `?token=`. Health, readiness, metrics,
 * the OpenAPI document and the dashboard's static files stay open: they hold no data.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SeedCoreError } from '../errors.js';

function digest(s: string): Buffer {
  // Hash both sides so the comparison is constant-time whatever the lengths.
  return createHash('sha256').update(s, 'utf8').digest();
}

export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  return timingSafeEqual(digest(expected), digest(given));
}

function presentedToken(request: FastifyRequest, route: string): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    return m ? m[1] : undefined;
  }
  if (route === '/api/events') {
    const q = request.query as Record<string, unknown> | undefined;
    if (q && typeof q.token === 'string') return q.token;
  }
  return undefined;
}

/**
 * An onRequest hook enforcing the token on /api routes; a no-op when no token is configured.
 * It checks the matched route pattern as well as the raw URL, so no spelling of a path that
 * the router maps to an /api route (trailing slash, query string) slips past.
 */
export function apiAuthHook(token: string | undefined) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (!token) return;
    const route = request.routeOptions.url ?? '';
    const isApi = (p: string) => p === '/api' || p.startsWith('/api/');
    if (!isApi(route) && !isApi(request.url.split('?')[0] ?? '')) return;
    if (!tokenMatches(token, presentedToken(request, route))) {
      throw new SeedCoreError('SEEDCORE_UNAUTHORIZED', 'missing or wrong bearer token (Authorization: Bearer <SEEDCORE_API_TOKEN>)');
    }
  };
}
