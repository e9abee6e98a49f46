/**
 * What the server does at its edge before any route runs: the one error shape for errors
 * Fastify and Node's HTTP parser produce themselves, Host and Origin checks for a server
 * without a token, and secrets kept out of the logs.
 */
import { isIP, type Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { SeedCoreError } from '../errors.js';

const SECRET_KEY = /^(token|access_token|api[_-]?key|apikey|password|passwd|pwd|secret|auth|authorization)$/i;

function decodedKey(k: string): string {
  try {
    return decodeURIComponent(k.replaceAll('+', ' '));
  } catch {
    return k;
  }
}

/**
 * A URL or path with secret query values (`token`, `password`, … however percent-encoded the
 * key) and any userinfo password replaced by `[redacted]`. Never throws.
 */
export function redactSecrets(url: string): string {
  let out = url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)[^/?#@]*@/i, '$1[redacted]@');
  const q = out.indexOf('?');
  if (q < 0) return out;
  const hash = out.indexOf('#', q);
  const query = out.slice(q + 1, hash < 0 ? undefined : hash);
  const redacted = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      return SECRET_KEY.test(decodedKey(key)) && eq >= 0 ? `${key}=[redacted]` : pair;
    })
    .join('&');
  out = `${out.slice(0, q + 1)}${redacted}${hash < 0 ? '' : out.slice(hash)}`;
  return out;
}

/** Fastify's own routing errors (a malformed URL, a path parameter over maxParamLength) in our shape. */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
  const message =
    error.code === 'FST_ERR_BAD_URL'
      ? 'the URL is not valid percent-encoded UTF-8'
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? 'a path parameter is too long'
        : (error.message ?? 'bad request');
  void reply
    .status(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send({ error: { code: 'SEEDCORE_INVALID_INPUT', message, details: { fastifyCode: error.code } } });
}

/** Errors Node's HTTP parser raises before Fastify sees a request (431, 408, malformed requests). */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request took too long to arrive']
        : [400, 'Bad Request', 'the request is not valid HTTP'];
  const body = JSON.stringify({ error: { code: 'SEEDCORE_INVALID_INPUT', message, details: { parserCode: err.code ?? null } } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.split(':')[0] ?? '';
}

/**
 * Without a token, the API trusts whoever can reach it, so it must only be reached as itself:
 * the Host header must be an IP address, a loopback name or an allowed host name (a DNS
 * rebinding page reaches us under its own domain name; a page at an IP address is that
 * address's own origin), and a state-changing request from a browser must come from the
 * same origin (a cross-site form or fetch cannot cancel a task). With a token both checks are
 * the token's job.
 */
export function sameOriginHook(options: { token: string | undefined; allowedHosts: readonly string[] }) {
  const allowed = new Set([...LOOPBACK, ...options.allowedHosts.map((h) => hostName(h))]);
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (options.token) return;
    const path = request.url.split('?')[0] ?? '';
    if (path !== '/api' && !path.startsWith('/api/')) return;
    const host = request.headers.host ?? '';
    const name = hostName(host);
    if (!allowed.has(name) && isIP(name.replace(/^\[|\]$/g, '')) === 0)
      throw new SeedCoreError('SEEDCORE_FORBIDDEN', `Host '${host.slice(0, 100)}' is not this server; set SEEDCORE_ALLOWED_HOSTS or SEEDCORE_API_TOKEN`, {
        details: { host: host.slice(0, 100) },
      });
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
    const origin = request.headers.origin;
    const site = request.headers['sec-fetch-site'];
    let crossOrigin = site === 'cross-site' || site === 'same-site';
    if (typeof origin === 'string') {
      try {
        crossOrigin = origin === 'null' || new URL(origin).host.toLowerCase() !== host.toLowerCase();
      } catch {
        crossOrigin = true;
      }
    }
    if (crossOrigin)
      throw new SeedCoreError('SEEDCORE_FORBIDDEN', 'cross-origin request refused: the server has no token, so only its own pages may change state', {
        details: { origin: typeof origin === 'string' ? origin.slice(0, 200) : null },
      });
  };
}
