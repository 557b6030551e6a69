// Mail-client self-configuration (src/domains/client-config.ts) over HTTP:
//   GET  /.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=…   Thunderbird (and K-9, FairEmail …)
//   GET  /mail/config-v1.1.xml                                          the same at autoconfig.<domain>
//   POST /autodiscover/autodiscover.xml (and /Autodiscover/Autodiscover.xml)   Outlook's POX request
//   GET  /v1/inboxes/:id/mobileconfig                                   an Apple profile for one inbox (API key)
// The first three are public, as clients fetch them before anyone has signed in; they describe
// only receiving domains this node hosts (404 otherwise) and never include a password.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import { notFound } from '../../core/core.ts';
import { appleMobileconfig, autodiscoverError, autodiscoverResponse, clientSettings, thunderbirdConfig } from '../../domains/client-config.ts';
import { inboxFor } from '../../inboxes/common.ts';
import { principal } from '../auth.ts';

const AUTODISCOVER_BODY_LIMIT = 64 * 1024;
const xmlResponse = { 200: { description: 'The configuration document', content: { 'application/xml': { schema: Type.String() } } } };

/** The domain of a request made to autoconfig.<domain>, from its Host header. */
function autoconfigHost(request: FastifyRequest): string | null {
  const host = String(request.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  return host.startsWith('autoconfig.') ? host.slice('autoconfig.'.length) : null;
}

export function autoconfigRoutes(app: FastifyInstance, core: Core) {
  const thunderbird = async (request: FastifyRequest, reply: any) => {
    const q = request.query as { emailaddress?: string };
    const settings = await clientSettings(core, { address: q.emailaddress ?? null, domain: q.emailaddress ? null : autoconfigHost(request) });
    if (!settings) throw notFound('Mail settings for this address (it is not at a receiving domain of this server)');
    return reply.type('application/xml; charset=utf-8').header('cache-control', 'public, max-age=3600').send(thunderbirdConfig(settings));
  };
  const query = Type.Object({ emailaddress: Type.Optional(Type.String({ maxLength: 320 })) });
  for (const url of ['/.well-known/autoconfig/mail/config-v1.1.xml', '/mail/config-v1.1.xml']) {
    app.get(url, { config: { auth: 'none' }, schema: { tags: ['Mail clients'], operationId: url.startsWith('/.well-known') ? 'getAutoconfig' : 'getAutoconfigHost', summary: 'Thunderbird autoconfig for an address', querystring: query, response: xmlResponse } as any }, thunderbird);
  }

  // Outlook posts an XML request naming the address; the parser takes XML bodies on these routes only.
  app.register(async (scope) => {
    scope.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string', bodyLimit: AUTODISCOVER_BODY_LIMIT }, (_request, body, done) => done(null, body));
    const autodiscover = async (request: FastifyRequest, reply: any) => {
      const body = typeof request.body === 'string' ? request.body : '';
      const address = /<EMailAddress>\s*([^<\s]{1,320})\s*<\/EMailAddress>/i.exec(body)?.[1] ?? (request.query as { email?: string }).email ?? null;
      const settings = address ? await clientSettings(core, { address }) : null;
      reply.type('application/xml; charset=utf-8');
      if (!settings) return reply.code(200).send(autodiscoverError(address ? 'The email address is not hosted on this server.' : 'The request names no EMailAddress.'));
      return reply.send(autodiscoverResponse({ ...settings, address: address!.trim().toLowerCase() }));
    };
    for (const url of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
      const id = url.startsWith('/a') ? 'autodiscover' : 'autodiscoverCapitalised';
      scope.post(url, { config: { auth: 'none' }, schema: { tags: ['Mail clients'], operationId: `post_${id}`, summary: 'Microsoft autodiscover (POX) for an address', response: xmlResponse } as any }, autodiscover);
      scope.get(url, { config: { auth: 'none' }, schema: { tags: ['Mail clients'], operationId: `get_${id}`, summary: 'Microsoft autodiscover for ?email=', querystring: Type.Object({ email: Type.Optional(Type.String({ maxLength: 320 })) }), response: xmlResponse } as any }, autodiscover);
    }
  });

  app.get(
    '/v1/inboxes/:id/mobileconfig',
    {
      config: { permission: 'inboxes:read' },
      schema: {
        tags: ['Mail clients'],
        operationId: 'getInboxMobileconfig',
        summary: 'An Apple configuration profile (.mobileconfig) for the inbox: IMAP and submission, no password',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 320 }) }),
        response: { 200: { description: 'The profile', content: { 'application/x-apple-aspen-config': { schema: Type.String() } } } },
      } as any,
    },
    async (request, reply) => {
      const inbox = await inboxFor(core.db, principal(request).workspaceId, (request.params as { id: string }).id);
      const settings = await clientSettings(core, { address: inbox.address });
      if (!settings) throw notFound('Mail settings for this inbox (its domain’s receiving MX is not verified)');
      if (!settings.servers.some((s) => s.protocol === 'imap') || !settings.servers.some((s) => s.protocol === 'smtp')) {
        throw notFound('Mail settings for this inbox (the IMAP or submission door of this server is off)');
      }
      const profile = appleMobileconfig({ ...settings, address: inbox.address, inboxId: inbox.id, displayName: inbox.name ?? null });
      return reply
        .type('application/x-apple-aspen-config; charset=utf-8')
        .header('content-disposition', `attachment; filename="${inbox.address.replace(/[^A-Za-z0-9@._-]/g, '_')}.mobileconfig"`)
        .send(profile);
    },
  );
}
