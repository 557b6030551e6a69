// /v1/broadcasts (Resend's broadcasts.*), /v1/contacts/imports (contacts.imports.*) and /unsubscribe/:token, the one-click and preference
// page of every broadcast message (no sign-in: the sealed token is the credential).
import { URLSearchParams } from 'node:url';
import { rm } from 'node:fs/promises';
import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  broadcastRecipients, cancelBroadcast, createBroadcast, duplicateBroadcast, getBroadcast, listBroadcasts, removeBroadcast, sendBroadcast, updateBroadcast,
} from '../../campaigns/broadcasts.ts';
import { oneClickUnsubscribe, preferencePage, savePreferences } from '../../campaigns/unsubscribe.ts';
import { PIXEL, clickedLinks, recordClick, recordOpen } from '../../campaigns/tracking.ts';
import { UploadTooLarge, createImport, fetchImportFile, getImport, importOptionsOf, listImports, receiveFile } from '../../campaigns/imports.ts';
import { type Core, CoreError, invalid } from '../../core/core.ts';
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
  route('GET', '/v1/broadcasts/:id/clicked-links', 'campaigns:read', 'Clicked links with clicks and unique clicks (recorded when the sending domain has click tracking on)', (ws, r) =>
    clickedLinks(core, ws, p(r).id, pageOf(q(r))),
  );

  // Open and click tracking (src/campaigns/tracking.ts): no sign-in, the sealed token is the key.
  const Tracked = Type.Object({ token: Type.String({ minLength: 10, maxLength: 4000, pattern: '^[A-Za-z0-9._-]+$' }) });
  const seen = (r: any) => ({ ip: r.ip as string, userAgent: String(r.headers['user-agent'] ?? '') });
  app.get('/t/o/:token', { config: { auth: 'none' }, schema: { hide: true, params: Tracked } as any }, async (request, reply) => {
    await recordOpen(core, (request.params as any).token, seen(request));
    return reply.header('cache-control', 'no-store, private').header('referrer-policy', 'no-referrer').type('image/gif').send(PIXEL);
  });
  app.get('/t/c/:token', { config: { auth: 'none' }, schema: { hide: true, params: Tracked } as any }, async (request, reply) => {
    const url = await recordClick(core, (request.params as any).token, seen(request));
    return reply.header('cache-control', 'no-store, private').header('referrer-policy', 'no-referrer').redirect(url, 302);
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

/** /v1/contacts/imports: a multipart upload (the SDK's form: file, column_map, on_conflict, segments, topics). */
export function importRoutes(app: FastifyInstance, core: Core) {
  app.register(async (scope) => {
    const max = core.settings.importMaxBytes;
    await scope.register(fastifyMultipart, { limits: { fileSize: max, files: 1, fields: 10, fieldSize: 256 * 1024, parts: 12 }, throwFileSizeLimit: true });
    const route = campaignRoute(scope, 'Contact imports');
    const q = (r: any) => r.query as Record<string, any>;
    route('POST', '/v1/contacts/imports', 'campaigns:manage', 'Import contacts from a CSV upload (multipart `file`), streamed; progress via get', async (ws, request) => {
      // A declared size over the cap is refused before a byte of the body is read.
      const declared = Number(request.headers['content-length'] ?? 0);
      if (declared > max + 1024 * 1024) throw new UploadTooLarge(max);
      // A JSON body with `url`: the file is fetched from there (through the SSRF guard).
      if (!request.isMultipart() && request.body && typeof request.body === 'object' && typeof (request.body as any).url === 'string') {
        const fields = request.body as Record<string, unknown>;
        const opts = importOptionsOf(fields);
        return { object: 'contact_import', id: await createImport(core, ws, await fetchImportFile(core, fields.url), opts) };
      }
      if (!request.isMultipart()) throw invalid('Send the CSV as multipart/form-data with a `file` part (the SDK does), or JSON with a `url` to fetch it from.');
      const fields: Record<string, unknown> = {};
      let file: string | null = null;
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            if (part.fieldname !== 'file' || file) throw invalid('The form must hold one `file` part.');
            file = await receiveFile(core, part.file);
          } else {
            fields[part.fieldname] = part.value;
          }
        }
      } catch (err) {
        if (file) await rm(file, { force: true });
        if ((err as any)?.code === 'FST_REQ_FILE_TOO_LARGE') throw new UploadTooLarge(max);
        if ((err as any)?.code?.startsWith?.('FST_')) throw invalid(`The upload is not a valid form: ${(err as Error).message}`);
        throw err;
      }
      if (!file && typeof fields.url === 'string') file = await fetchImportFile(core, fields.url);
      if (!file) throw new CoreError(422, 'missing_required_field', 'Missing `file` field: the CSV to import (or `url`, where to fetch it).');
      let opts;
      try {
        opts = importOptionsOf(fields);
      } catch (err) {
        await rm(file, { force: true });
        throw err;
      }
      return { object: 'contact_import', id: await createImport(core, ws, file, opts) };
    }, 201);
    route('GET', '/v1/contacts/imports', 'campaigns:read', 'List contact imports', (ws, r) => listImports(core, ws, { ...pageOf(q(r)), status: q(r).status }));
    route('GET', '/v1/contacts/imports/:id', 'campaigns:read', 'An import: status, rows done of total, counts and the first errors with line numbers', (ws, r) => getImport(core, ws, (r.params as any).id));
  });
}
