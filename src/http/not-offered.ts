// Resend API routes that this node does not serve, each answered with a clear Resend-shaped 404
// naming the feature, instead of "no endpoint" or, worse, a parametric route's misleading answer.
//
// This is consulted only by the not-found handler, i.e. after the router found no route: a route
// registered later for one of these paths (campaigns, automations, usage …) simply takes over,
// with nothing to remove here. Hosted-service features of Resend that make no sense self-hosted
// say so; the others say they are not offered yet.
import type { FastifyRequest } from 'fastify';

interface Feature {
  /** What the SDK calls it. */
  sdk: string;
  /** True for Resend's hosted-service features (never offered by a self-hosted node). */
  hosted?: true;
  why?: string;
  routes: string[];
}

const FEATURES: Feature[] = [
  { sdk: 'domains.claims.*', hosted: true, why: 'claiming a domain from another Resend account is a feature of Resend’s hosted service; here a domain belongs to the workspace that verifies it', routes: ['POST /domains/claim', 'GET /domains/:id/claim', 'POST /domains/:id/claim/verify'] },
  { sdk: 'oauthGrants.*', hosted: true, why: 'OAuth grants to third-party apps are a feature of Resend’s hosted service; use API keys', routes: ['GET /oauth/grants', 'DELETE /oauth/grants/:id'] },
  { sdk: 'emails.share', hosted: true, why: 'public share links for sent emails are a feature of Resend’s hosted service', routes: ['POST /emails/:id/share'] },
  { sdk: 'events.*', routes: ['POST /events', 'POST /events/send', 'GET /events', 'GET /events/:id', 'PATCH /events/:id', 'DELETE /events/:id'] },
  {
    sdk: 'automations.*',
    routes: [
      'POST /automations', 'GET /automations', 'GET /automations/:id', 'PATCH /automations/:id', 'DELETE /automations/:id',
      'POST /automations/:id/duplicate', 'POST /automations/:id/stop', 'GET /automations/:id/runs', 'GET /automations/:id/runs/:run',
    ],
  },
];

const COMPILED = FEATURES.flatMap((f) =>
  f.routes.map((r) => {
    const [method, path] = r.split(' ');
    return { method, re: new RegExp(`^/v1${path.replace(/:[a-z]+/g, '[^/]+')}/?$`), feature: f };
  }),
);

/** The message for a Resend route this node does not serve, or null for any other unknown path. */
export function notOffered(request: Pick<FastifyRequest, 'method' | 'url'>): string | null {
  const path = request.url.split('?')[0];
  const hit = COMPILED.find((c) => c.method === request.method && c.re.test(path));
  if (!hit) return null;
  const f = hit.feature;
  return f.hosted
    ? `Mailstack does not offer ${f.sdk} (${request.method} ${path}): ${f.why}.`
    : `Mailstack does not offer Resend's ${f.sdk} API on this node yet (${request.method} ${path}).`;
}

/** Every route listed here, as `METHOD /v1/path` (for the test that walks the SDK). */
export function notOfferedRoutes(): string[] {
  return FEATURES.flatMap((f) => f.routes.map((r) => r.replace(' ', ' /v1')));
}
