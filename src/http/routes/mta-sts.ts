// GET /.well-known/mta-sts.txt at mta-sts.<domain> (RFC 8461 §3.3): the MTA-STS policy of a hosted
// receiving domain, chosen by the Host header. Public (senders fetch it without credentials), and
// only for a domain this node receives for with its MX verified: any other host gets 404, so the
// route says nothing about other names. The policy itself is src/domains/mta-sts.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import { notFound } from '../../core/core.ts';
import { mtaStsPolicy } from '../../domains/mta-sts.ts';
import { capabilitiesOf, mergedRecords } from '../../domains/records.ts';

/** `mta-sts.example.com[:port]` → `example.com`; null for any other host. */
function policyDomain(request: FastifyRequest): string | null {
  const host = String(request.headers.host ?? '').replace(/:\d+$/, '').toLowerCase().replace(/\.$/, '');
  if (!host.startsWith('mta-sts.')) return null;
  const d = host.slice('mta-sts.'.length);
  return /^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})+$/.test(d) && d.length <= 253 ? d : null;
}

export function mtaStsRoutes(app: FastifyInstance, core: Core) {
  app.get(
    '/.well-known/mta-sts.txt',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['Mail clients'],
        operationId: 'getMtaStsPolicy',
        summary: 'The MTA-STS policy (RFC 8461) of a hosted domain, asked for at mta-sts.<domain>',
        response: { 200: { description: 'The policy', content: { 'text/plain': { schema: Type.String() } } } },
      } as any,
    },
    async (request, reply) => {
      const domain = policyDomain(request);
      const policy = mtaStsPolicy(core.settings);
      const rows = domain && policy ? await core.db.selectFrom('domains').selectAll().where('name', '=', domain).execute() : [];
      const hosted = rows.some((d) => capabilitiesOf(d).receiving === 'enabled' && mergedRecords(d, core.settings.hostname, core.settings).some((r) => r.purpose === 'receiving_mx' && r.status === 'verified'));
      if (!hosted || !policy) throw notFound('MTA-STS policy (ask at mta-sts.<domain> of a domain this server receives for)');
      // §3.3: text/plain; caches may keep it, senders re-check the TXT id anyway.
      return reply.type('text/plain; charset=utf-8').header('cache-control', 'public, max-age=3600').send(policy);
    },
  );
}
