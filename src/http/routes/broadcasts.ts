// /v1/broadcasts (Resend's broadcasts.*) and /unsubscribe/:token, the one-click and preference
// page of every broadcast message (no sign-in: the sealed token is the credential).
import { URLSearchParams } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  broadcastRecipients, cancelBroadcast, createBroadcast, duplicateBroadcast, getBroadcast, listBroadcasts, removeBroadcast, sendBroadcast, updateBroadcast,
} from '../../campaigns/broadcasts.ts';
import { oneClickUnsubscribe, preferencePage, savePreferences } from '../../campaigns/unsubscribe.ts';
import type { Core } from '../../core/core.ts';
import { pageOf } from '../pagination.ts';
import { campaignRoute } from './contacts.ts';

const MAX_FORM = 64 * 1024;

export function broadcastRoutes(app: FastifyInstance, core: Core) {
  const route = campaignRoute(app, 'Broadcasts');
  const p = (r: any) => r.params as Record<string, string>;
  const q = (r: any) => r.query as Record<string, any>;
  route('POST', '/v1/broadcasts', 'campaigns:manage', 'Create a broadcast to a segment (a draft unless `send: true`)', (ws, r) => createBroadcast(core, ws, r.body), 201);
  route('GET', '/v1/broadcasts', 'campaigns:read', 'List broadcasts', (ws, r) => listBroadcasts(core, ws, pageOf(q(r))));
  route('GET', '/v1/broadcasts/:id', 'campaigns:read', 'Get a broadcast', (ws, r) => getBroadcast(core, ws, p(r).id));
  route('PATCH', '/v1/broadcasts/:id', 'campaigns:manage', 'Change a draft broadcast', (ws, r) => updateBroadcast(core, ws, p(r).id, r.body));
  route('DELETE', '/v1/broadcasts/:id', 'campaigns:manage', 'Remove a draft, scheduled or finished broadcast', (ws, r) => removeBroadcast(core, ws, p(r).id));
  route('POST', '/v1/broadcasts/:id/send', 'broadcasts:send', 'Send a broadcast now or at `scheduled_at`', (ws, r) => sendBroadcast(core, ws, p(r).id, r.body));
  route('POST', '/v1/broadcasts/:id/cancel', 'broadcasts:send', 'Stop a scheduled or sending broadcast (what has not gone yet)', (ws, r) => cancelBroadcast(core, ws, p(r).id));
  route('POST', '/v1/broadcasts/:id/duplicate', 'campaigns:manage', 'Copy a broadcast as a new draft', (ws, r) => duplicateBroadcast(core, ws, p(r).id), 201);
  route('GET', '/v1/broadcasts/:id/recipients', 'campaigns:read', 'Per-recipient outcome (`type` filters; `skip_reason` says why a contact got nothing)', (ws, r) =>
    broadcastRecipients(core, ws, p(r).id, { ...pageOf(q(r)), type: q(r).type, email: q(r).email }),
  );
  route('GET', '/v1/broadcasts/:id/clicked-links', 'campaigns:read', 'Clicked links (click tracking is not built: always empty)', async (ws, r) => {
    await getBroadcast(core, ws, p(r).id);
    return { object: 'list', has_more: false, data: [] };
  });

  // The unsubscribe door: a form body (RFC 8058 §3.1 posts application/x-www-form-urlencoded).
  app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM }, (_req, body, done) => {
      const form = new URLSearchParams(body as string);
      done(null, { fields: Object.fromEntries(form), topics: form.getAll('topic') });
    });
    // RFC 8058 §3.2: the POST must work without any of the message's cookies or a sign-in.
    const Token = Type.Object({ token: Type.String({ minLength: 10, maxLength: 200, pattern: '^[A-Za-z0-9._-]+$' }) });
    scope.post('/unsubscribe/:token', { config: { auth: 'none' }, schema: { hide: true, params: Token } as any }, async (request, reply) => {
      const token = (request.params as any).token as string;
      const body = (request.body ?? {}) as { fields?: Record<string, string>; topics?: string[] };
      const f = body.fields ?? {};
      if (f.action === 'topics') {
        await savePreferences(core, token, new Set(body.topics ?? []));
        return reply.type('text/html; charset=utf-8').send(await preferencePage(core, token, 'Your preferences are saved.'));
      }
      await oneClickUnsubscribe(core, token);
      if (f.action === 'unsubscribe_all') return reply.type('text/html; charset=utf-8').send(await preferencePage(core, token, 'You are unsubscribed.'));
      return reply.type('text/plain; charset=utf-8').send('You are unsubscribed.\n');
    });
    scope.get('/unsubscribe/:token', { config: { auth: 'none' }, schema: { hide: true, params: Token } as any }, async (request, reply) => {
      reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
      return reply.type('text/html; charset=utf-8').send(await preferencePage(core, (request.params as any).token, null));
    });
  });
}
