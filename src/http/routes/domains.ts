// /v1/domains — Resend's domains endpoints (create, list, get, update, remove, verify).
// Mailstack's one extension: `dkim_algorithm` ("rsa", the default, 2048 bits, or "ed25519",
// RFC 8463) in the create body. The SDK's domains.create does not pass unknown fields, so use
// `resend.post('/domains', { name, dkim_algorithm: 'ed25519' })` or plain HTTP for it.
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/core.ts';
import { createDomain, getDomain, listDomains, removeDomain, updateDomain } from '../../domains/domains.ts';
import { startVerification } from '../../domains/verify.ts';
import { principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
const Capability = Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]);
const Capabilities = Type.Object(
  { sending: Type.Optional(Capability), receiving: Type.Optional(Capability) },
  { additionalProperties: false },
);
const Tls = Type.Union([Type.Literal('opportunistic'), Type.Literal('enforced')]);
// Names are checked by the core (a clear message per problem); the schema only bounds the size.
const Label = Type.String({ maxLength: 100 });

export function domainRoutes(app: FastifyInstance, core: Core) {
  app.post(
    '/v1/domains',
    {
      config: { permission: 'domains:manage' },
      schema: {
        tags: ['Domains'],
        summary: 'Add a domain: makes its DKIM key and returns the DNS records to publish',
        body: Type.Object(
          {
            name: Type.String({ maxLength: 1000 }),
            region: Type.Optional(Type.String({ maxLength: 50 })),
            custom_return_path: Type.Optional(Label),
            capabilities: Type.Optional(Capabilities),
            open_tracking: Type.Optional(Type.Boolean()),
            click_tracking: Type.Optional(Type.Boolean()),
            tls: Type.Optional(Tls),
            tracking_subdomain: Type.Optional(Label),
            dkim_algorithm: Type.Optional(Type.Union([Type.Literal('rsa'), Type.Literal('ed25519')])),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const p = principal(request);
      reply.code(201);
      return createDomain(core, p.actor, p.workspaceId, request.body as any);
    },
  );

  app.get(
    '/v1/domains',
    { config: { permission: 'domains:read' }, schema: { tags: ['Domains'], summary: 'List domains, newest first', querystring: PageQuery } },
    async (request) => listDomains(core, principal(request).workspaceId, pageOf(request.query as any)),
  );

  app.get(
    '/v1/domains/:id',
    { config: { permission: 'domains:read' }, schema: { tags: ['Domains'], summary: 'A domain with its DNS records and their status', params: IdParams } },
    async (request) => getDomain(core, principal(request).workspaceId, (request.params as any).id),
  );

  app.patch(
    '/v1/domains/:id',
    {
      config: { permission: 'domains:manage' },
      schema: {
        tags: ['Domains'],
        summary: 'Change tracking, TLS policy or capabilities',
        params: IdParams,
        body: Type.Object(
          {
            open_tracking: Type.Optional(Type.Boolean()),
            click_tracking: Type.Optional(Type.Boolean()),
            tls: Type.Optional(Tls),
            capabilities: Type.Optional(Capabilities),
            tracking_subdomain: Type.Optional(Label),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const p = principal(request);
      return updateDomain(core, p.actor, p.workspaceId, (request.params as any).id, (request.body as any) ?? {});
    },
  );

  app.delete(
    '/v1/domains/:id',
    { config: { permission: 'domains:manage' }, schema: { tags: ['Domains'], summary: 'Remove a domain (API keys held to it are removed too)', params: IdParams } },
    async (request) => {
      const p = principal(request);
      return removeDomain(core, p.actor, p.workspaceId, (request.params as any).id);
    },
  );

  app.post(
    '/v1/domains/:id/verify',
    { config: { permission: 'domains:manage' }, schema: { tags: ['Domains'], summary: 'Queue a check of the DNS records', params: IdParams } },
    async (request) => {
      const p = principal(request);
      return startVerification(core, p.actor, p.workspaceId, (request.params as any).id);
    },
  );
}
