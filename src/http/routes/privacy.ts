// /v1/exports and /v1/erasures — data portability and the right to be forgotten (issue 13),
// in Resend's style. Both are for owners and admins (and full-access keys) only.
import type { FastifyInstance } from 'fastify';
import { createReadStream } from 'node:fs';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import { eraseAddress, erasureJson, getErasure, listErasures } from '../../privacy/erasure.ts';
import { exportJson, getExport, listExports, openExportDownload, requestExport } from '../../privacy/export.ts';
import { clientOf, principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
const TokenQuery = Type.Object({ token: Type.String({ maxLength: 2000 }) });
const NS = Type.Union([Type.String(), Type.Null()]);
const ExportSchema = Type.Object(
  {
    object: Type.Literal('export'),
    id: Type.String(),
    scope: Type.Union([Type.Literal('workspace'), Type.Literal('person'), Type.Literal('inbox')]),
    status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed')]),
    progress: Type.Object({ done: Type.Integer(), total: Type.Integer() }),
    download_url: NS,
    expires_at: NS,
    created_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
const ErasureSchema = Type.Object(
  {
    object: Type.Literal('erasure'),
    id: Type.String(),
    status: Type.Union([Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed')]),
    removed: Type.Record(Type.String(), Type.Integer()),
    created_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
const ListOf = (item: typeof ExportSchema | typeof ErasureSchema) => Type.Object({ object: Type.Literal('list'), has_more: Type.Boolean(), data: Type.Array(item) });
const Zip = { 200: { description: 'The zip', content: { 'application/zip': { schema: Type.String({ format: 'binary' }) } } } };

export function privacyRoutes(app: FastifyInstance, core: Core) {
  app.post(
    '/v1/exports',
    {
      config: { permission: 'exports:manage' },
      schema: {
        operationId: 'createExport',
        response: { 201: ExportSchema },
        tags: ['Exports'],
        summary: "Export the workspace's data, a person's (every record naming an address) or one inbox's, as a zip made in the background",
        body: Type.Object(
          {
            scope: Type.Union([Type.Literal('workspace'), Type.Literal('person'), Type.Literal('inbox')]),
            email: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })),
            inbox_id: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const p = principal(request);
      const row = await requestExport(core, p.actor, p.workspaceId, request.body as any);
      reply.code(201);
      return exportJson(core, row);
    },
  );

  app.get('/v1/exports', { config: { permission: 'exports:manage' }, schema: { operationId: 'listExports', response: { 200: ListOf(ExportSchema) }, tags: ['Exports'], summary: 'List exports, newest first', querystring: PageQuery } }, async (request) =>
    listExports(core, principal(request).workspaceId, pageOf(request.query as any)),
  );

  app.get(
    '/v1/exports/:id',
    { config: { permission: 'exports:manage' }, schema: { operationId: 'getExport', response: { 200: ExportSchema }, tags: ['Exports'], summary: 'An export: its progress and, once completed, a signed download link valid for an hour', params: IdParams } },
    async (request) => exportJson(core, await getExport(core, principal(request).workspaceId, (request.params as any).id)),
  );

  app.get(
    '/v1/exports/:id/download',
    { config: { auth: 'none' }, schema: { operationId: 'downloadExport', response: Zip, tags: ['Exports'], summary: "The export's zip, by its signed download_url (no API key)", params: IdParams, querystring: TokenQuery } },
    async (request, reply) => {
      const { id } = request.params as any;
      const { file, size } = await openExportDownload(core, id, (request.query as any).token, clientOf(request));
      reply
        .type('application/zip')
        .header('content-length', String(size))
        .header('content-disposition', `attachment; filename="mailstack-export-${id}.zip"`)
        .header('cache-control', 'private, no-store')
        .header('x-content-type-options', 'nosniff');
      return reply.send(createReadStream(file));
    },
  );

  app.post(
    '/v1/erasures',
    {
      config: { permission: 'erasures:manage' },
      schema: {
        operationId: 'createErasure',
        response: { 201: ErasureSchema },
        tags: ['Erasures'],
        summary: 'Erase every trace of an address from the workspace; only a keyed hash stays, so it is never contacted again',
        body: Type.Object(
          { email: Type.String({ minLength: 3, maxLength: 320 }), include_mailbox_content: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const p = principal(request);
      const row = await eraseAddress(core, p.actor, p.workspaceId, request.body as any);
      reply.code(201);
      return erasureJson(row);
    },
  );

  app.get('/v1/erasures', { config: { permission: 'erasures:manage' }, schema: { operationId: 'listErasures', response: { 200: ListOf(ErasureSchema) }, tags: ['Erasures'], summary: 'List erasures, newest first', querystring: PageQuery } }, async (request) =>
    listErasures(core, principal(request).workspaceId, pageOf(request.query as any)),
  );

  app.get(
    '/v1/erasures/:id',
    { config: { permission: 'erasures:manage' }, schema: { operationId: 'getErasure', response: { 200: ErasureSchema }, tags: ['Erasures'], summary: 'An erasure and what it removed, by kind', params: IdParams } },
    async (request) => erasureJson(await getErasure(core, principal(request).workspaceId, (request.params as any).id)),
  );
}
