// Public subscribe forms and double opt-in (src/campaigns/subscribe.ts): /v1/subscribe-forms to
// manage them, and the hosted, sign-in-free door a website posts to: GET/POST /subscribe/:form_id,
// GET/POST /subscribe/confirm/:token. Also the CSV export of contacts (GET /v1/contacts/export).
import { Readable } from 'node:stream';
import { URLSearchParams } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { contactsCsv } from '../../campaigns/export.ts';
import { confirmPage, confirmSubscription, createForm, formPage, getForm, listForms, removeForm, subscribe, type SubscribeOutcome } from '../../campaigns/subscribe.ts';
import { escapeHtml } from '../../campaigns/render.ts';
import type { Core } from '../../core/core.ts';
import { principal } from '../auth.ts';
import { sendError } from '../errors.ts';
import { pageOf } from '../pagination.ts';
import { RateLimiter } from '../rate-limit.ts';
import { campaignRoute } from './contacts.ts';

const MAX_FORM = 16 * 1024;
/** Posts to the public subscribe door per client address per minute. */
export const SUBSCRIBE_POSTS_PER_MINUTE = 10;

export function subscribeRoutes(app: FastifyInstance, core: Core) {
  const route = campaignRoute(app, 'Subscribe forms');
  const p = (r: any) => r.params as Record<string, string>;
  route('POST', '/v1/subscribe-forms', 'campaigns:manage', 'Create a public subscribe form (double opt-in by default)', (ws, r) => createForm(core, ws, r.body), 201);
  route('GET', '/v1/subscribe-forms', 'campaigns:read', 'List subscribe forms', (ws, r) => listForms(core, ws, pageOf(r.query as any)));
  route('GET', '/v1/subscribe-forms/:id', 'campaigns:read', 'Get a subscribe form and its public URL', (ws, r) => getForm(core, ws, p(r).id));
  route('DELETE', '/v1/subscribe-forms/:id', 'campaigns:manage', 'Remove a subscribe form', (ws, r) => removeForm(core, ws, p(r).id));

  app.get(
    '/v1/contacts/export',
    {
      config: { permission: 'campaigns:read' },
      schema: {
        tags: ['Contacts'],
        operationId: 'exportContacts',
        summary: 'Every contact as CSV (RFC 4180; cells a spreadsheet would evaluate are prefixed with a quote); `segment_id` limits it to one segment',
        querystring: Type.Object({ segment_id: Type.Optional(Type.String({ maxLength: 100 })) }),
        response: { 200: { description: 'The contacts', content: { 'text/csv': { schema: Type.String() } } } },
      } as any,
    },
    async (request, reply) => {
      const csv = await contactsCsv(core, principal(request).workspaceId, (request.query as any).segment_id);
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="contacts.csv"').header('cache-control', 'no-store').send(Readable.from(csv));
    },
  );

  const limiter = new RateLimiter(SUBSCRIBE_POSTS_PER_MINUTE, 60_000);
  app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    const html = (reply: FastifyReply, body: string, status = 200) => reply.code(status).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').type('text/html; charset=utf-8').send(body);
    // A browser posting the hosted form gets a page (or the form's redirect); a script posting JSON gets JSON.
    const answer = (request: FastifyRequest, reply: FastifyReply, out: SubscribeOutcome) => {
      if (String(request.headers['content-type'] ?? '').startsWith('application/json')) return reply.send({ object: 'subscription', message: out.message });
      if (out.redirect) return reply.redirect(out.redirect, 303);
      return html(reply, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Subscription</title></head><body><p role="status">${escapeHtml(out.message)}</p></body></html>`);
    };
    const FormId = Type.Object({ form_id: Type.String({ minLength: 1, maxLength: 100 }) });
    const Token = Type.Object({ token: Type.String({ minLength: 10, maxLength: 400, pattern: '^[A-Za-z0-9._-]+$' }) });
    scope.get('/subscribe/:form_id', { config: { auth: 'none' }, schema: { hide: true, params: FormId } as any }, async (request, reply) => html(reply, await formPage(core, (request.params as any).form_id)));
    scope.post('/subscribe/:form_id', { config: { auth: 'none' }, bodyLimit: MAX_FORM, schema: { hide: true, params: FormId } as any }, async (request, reply) => {
      const r = limiter.take(request.ip, core.clock.now());
      if (!r.allowed) {
        reply.header('retry-after', String(Math.max(1, Math.ceil(r.resetMs / 1000))));
        return sendError(reply, 429, 'rate_limit_exceeded', 'Too many subscribe requests from this address. Try again in a minute.');
      }
      const body = request.body && typeof request.body === 'object' && !Array.isArray(request.body) ? (request.body as Record<string, unknown>) : {};
      return answer(request, reply, await subscribe(core, (request.params as any).form_id, body));
    });
    scope.get('/subscribe/confirm/:token', { config: { auth: 'none' }, schema: { hide: true, params: Token } as any }, async (request, reply) => html(reply, await confirmPage(core, (request.params as any).token)));
    scope.post('/subscribe/confirm/:token', { config: { auth: 'none' }, bodyLimit: MAX_FORM, schema: { hide: true, params: Token } as any }, async (request, reply) =>
      answer(request, reply, await confirmSubscription(core, (request.params as any).token)),
    );
  });
}
