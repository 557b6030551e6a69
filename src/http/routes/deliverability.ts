// GET /v1/deliverability — bounce and complaint rates (workspace and per sending domain, 7 and 30
// days) beside the pause thresholds, and per domain the DMARC aggregate reports received
// (src/deliverability/). Mailstack's own; Resend has no such route. Scoped to the caller's workspace.
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/core.ts';
import { deliverability } from '../../deliverability/deliverability.ts';
import { principal } from '../auth.ts';

export function deliverabilityRoutes(app: FastifyInstance, core: Core) {
  app.get(
    '/v1/deliverability',
    { config: { permission: 'domains:read' }, schema: { tags: ['Deliverability'], summary: 'Bounce and complaint rates per workspace and sending domain (7 and 30 days), pause thresholds and state, DMARC aggregate reports per domain' } },
    async (request) => deliverability(core, principal(request).workspaceId),
  );
}
