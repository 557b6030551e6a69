// Serving the browser app (web/, built into web/dist by web/build.ts): hashed files under /assets
// cached for a year, index.html (never cached) for every app route, and the security headers of
// the page.
//
// Implementation notes:
// - The Content-Security-Policy allows no inline script and no eval: script only from our own
//   origin. Mail is shown in sandboxed srcdoc iframes, which inherit this policy, so images may be
//   data: (inlined cid: parts) or remote (only when the reader asked: the server strips them
//   otherwise); inline styles are allowed because mail layout lives in style attributes.
// - frame-ancestors 'none' (and X-Frame-Options DENY): nobody frames the app (clickjacking).
// - Referrer-Policy no-referrer: a link clicked in a message never tells the sender our URLs.
// - Only names the build wrote are served from /assets (looked up in the folder listing, no path
//   joins of request input).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

export const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: https: http:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.map': 'application/json' };

/** Paths the app never claims: the API, the API reference, health, metrics, mail-client documents. */
// Versioned API paths (/v1, and /v2… that do not exist) answer JSON 404s, never the app's page.
const NOT_APP = /^\/(v\d+|docs|healthz|metrics|login\/magic|\.well-known|autoconfig|autodiscover)(\/|$)/i;

function pageHeaders(reply: FastifyReply) {
  return reply
    .header('content-security-policy', CSP)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('cross-origin-opener-policy', 'same-origin');
}

export function webAppRoutes(app: FastifyInstance) {
  const assetsDir = path.join(WEB_DIST, 'assets');
  const assets = new Map<string, Buffer>();
  if (existsSync(assetsDir)) for (const name of readdirSync(assetsDir)) assets.set(name, readFileSync(path.join(assetsDir, name)));
  const indexFile = path.join(WEB_DIST, 'index.html');
  const index = existsSync(indexFile) ? readFileSync(indexFile) : null;

  app.get('/assets/:name', { config: { auth: 'none' }, schema: { hide: true } as any }, async (request, reply) => {
    const name = (request.params as { name: string }).name;
    const body = assets.get(name);
    if (!body) return reply.code(404).type('text/plain; charset=utf-8').send('Not found\n');
    return pageHeaders(reply)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type(TYPES[path.extname(name)] ?? 'application/octet-stream')
      .send(body);
  });

  /** index.html for an app route; false when the path is not the app's. */
  return function serveApp(url: string, method: string, reply: FastifyReply): boolean {
    const pathname = url.split('?')[0];
    if ((method !== 'GET' && method !== 'HEAD') || NOT_APP.test(pathname) || pathname.startsWith('/assets/')) return false;
    pageHeaders(reply).header('cache-control', 'no-cache');
    if (!index) {
      reply.code(503).type('text/plain; charset=utf-8').send('The web app is not built. Run `npm run build:web` (npm start does it), then restart.\n');
      return true;
    }
    reply.code(200).type('text/html; charset=utf-8').send(index);
    return true;
  };
}
