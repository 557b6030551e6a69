// GET /v1/emails/metrics — Resend's `emails.metrics` (src/outbound/email-metrics.ts). Registered as
// a static path, so the router prefers it to `/v1/emails/:id`.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import { DIMENSIONS, EMAIL_METRICS, GRANULARITIES, emailMetrics } from '../../outbound/email-metrics.ts';
import { principal } from '../auth.ts';

const Csv = (description: string) => Type.Optional(Type.String({ maxLength: 4000, description }));
const Counts = Type.Object(Object.fromEntries(EMAIL_METRICS.map((m) => [m, Type.Optional(Type.Number())])));
const Row = Type.Intersect([
  Counts,
  Type.Object({
    period: Type.Optional(Type.String()),
    domain_id: Type.Optional(Type.String()),
    domain_name: Type.Optional(Type.String()),
    email_id: Type.Optional(Type.String()),
    broadcast_id: Type.Optional(Type.String()),
    broadcast_name: Type.Optional(Type.String()),
  }),
]);

export function emailMetricsRoutes(app: FastifyInstance, core: Core) {
  app.get(
    '/v1/emails/metrics',
    {
      config: { permission: 'emails:read' },
      schema: {
        tags: ['Emails'],
        operationId: 'getEmailMetrics',
        summary: 'Counts of what happened to the workspace’s mail over a period, by period, domain or email',
        querystring: Type.Object(
          {
            start_date: Type.Optional(Type.String({ maxLength: 40 })),
            end_date: Type.Optional(Type.String({ maxLength: 40 })),
            timezone: Type.Optional(Type.String({ maxLength: 64 })),
            granularity: Type.Optional(Type.String({ maxLength: 20, description: GRANULARITIES.join(', ') })),
            metrics: Csv(`Comma-separated: ${EMAIL_METRICS.join(', ')}`),
            dimensions: Csv(`Comma-separated: ${DIMENSIONS.join(', ')}`),
            domain_id: Csv('Comma-separated domain ids'),
            email_id: Csv('Comma-separated email ids'),
            broadcast_id: Csv('Comma-separated broadcast ids'),
            tag: Type.Optional(Type.String({ maxLength: 512, description: 'Mailstack: only emails with this tag, `name` or `name:value`' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            object: Type.Literal('metrics'),
            start_date: Type.String(),
            end_date: Type.String(),
            metrics: Type.Array(Type.String()),
            dimensions: Type.Array(Type.String()),
            granularity: Type.String(),
            totals: Counts,
            data: Type.Optional(Type.Array(Row)),
          }),
        },
      },
    },
    async (request) => emailMetrics(core, principal(request).workspaceId, request.query as any),
  );
}
