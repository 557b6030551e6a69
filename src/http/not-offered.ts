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
  {
    sdk: 'contacts.*',
    routes: [
      'POST /contacts', 'GET /contacts', 'GET /contacts/:id', 'PATCH /contacts/:id', 'DELETE /contacts/:id',
      'GET /contacts/:id/segments', 'POST /contacts/:id/segments/:segment', 'DELETE /contacts/:id/segments/:segment',
      'GET /contacts/:id/topics', 'PATCH /contacts/:id/topics', 'GET /segments/:segment/contacts',
      'POST /audiences/:audience/contacts', 'GET /audiences/:audience/contacts', 'GET /audiences/:audience/contacts/:id',
      'PATCH /audiences/:audience/contacts/:id', 'DELETE /audiences/:audience/contacts/:id',
    ],
  },
  { sdk: 'contacts.imports.*', routes: ['POST /contacts/imports', 'GET /contacts/imports', 'GET /contacts/imports/:id'] },
  { sdk: 'contactProperties.*', routes: ['POST /contact-properties', 'GET /contact-properties', 'GET /contact-properties/:id', 'PATCH /contact-properties/:id', 'DELETE /contact-properties/:id'] },
  { sdk: 'segments.* (and audiences.*)', routes: ['POST /segments', 'GET /segments', 'GET /segments/:id', 'PATCH /segments/:id', 'DELETE /segments/:id'] },
  { sdk: 'topics.*', routes: ['POST /topics', 'GET /topics', 'GET /topics/:id', 'PATCH /topics/:id', 'DELETE /topics/:id'] },
  {
    sdk: 'templates.*',
    routes: ['POST /templates', 'GET /templates', 'GET /templates/:id', 'PATCH /templates/:id', 'DELETE /templates/:id', 'POST /templates/:id/duplicate', 'POST /templates/:id/publish'],
  },
  {
    sdk: 'broadcasts.*',
    routes: [
      'POST /broadcasts', 'GET /broadcasts', 'GET /broadcasts/:id', 'PATCH /broadcasts/:id', 'DELETE /broadcasts/:id',
      'POST /broadcasts/:id/send', 'POST /broadcasts/:id/cancel', 'POST /broadcasts/:id/duplicate',
      'GET /broadcasts/:id/recipients', 'GET /broadcasts/:id/clicked-links',
    ],
  },
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
