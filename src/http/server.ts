// The HTTP door: the REST API under /v1 (Resend's API plus our own endpoints), the OpenAPI
// document, health and metrics. Handlers are thin: they validate by schema, resolve the caller,
// and call core services.
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { Ajv } from 'ajv';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Core } from '../core/core.ts';
import { authHook } from './auth.ts';
import { errorHandler, sendError } from './errors.ts';
import { createMetrics, metricsAuthorized } from './metrics.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { authRoutes } from './routes/auth.ts';
import { domainRoutes } from './routes/domains.ts';
import { emailRoutes } from './routes/emails.ts';
import { workspaceRoutes } from './routes/workspace.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { logRoutes } from './routes/logs.ts';
import { rateLimitHook } from './rate-limit.ts';
import { requestLogHook } from './request-log.ts';
import { suppressionRoutes } from './routes/suppressions.ts';
import { spamRoutes } from './routes/spam.ts';
import { deliverabilityRoutes } from './routes/deliverability.ts';
import { aliasRoutes } from './routes/aliases.ts';
import { forwardingRoutes } from './routes/forwarding.ts';
import { appPasswordRoutes } from './routes/app-passwords.ts';
import { inboxRoutes } from './routes/inboxes.ts';
import { inboxThreadRoutes } from './routes/inbox-threads.ts';
import { inboxDraftRoutes } from './routes/inbox-drafts.ts';
import { receivingRoutes } from './routes/receiving.ts';
import { capturedRoutes } from './routes/captured.ts';
import { emailMetricsRoutes } from './routes/email-metrics.ts';
import { autoconfigRoutes } from './routes/autoconfig.ts';
import { contactRoutes, templateRoutes } from './routes/contacts.ts';
import { broadcastRoutes, importRoutes } from './routes/broadcasts.ts';
import { subscribeRoutes } from './routes/subscribe.ts';
import { mtaStsRoutes } from './routes/mta-sts.ts';
import { notOffered } from './not-offered.ts';
import { webmailRoutes } from './routes/webmail.ts';
import { webAppRoutes } from './web-app.ts';
import { privacyRoutes } from './routes/privacy.ts';
import { lifecycleRoutes } from './routes/lifecycle.ts';
import { completeOpenApi } from './openapi.ts';

export interface HttpOptions {
  /** Asked by /healthz; false once the node is shutting down. */
  isReady: () => boolean;
}

export async function buildHttpServer(core: Core, opts: HttpOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: core.log.child({ door: 'http' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: core.settings.httpBodyLimit,
    trustProxy: core.settings.trustProxy,
    routerOptions: { maxParamLength: 200 },
    // Errors the router raises before any route runs: answered in Resend's shape like the rest.
    frameworkErrors: (err, request, reply) => {
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(reply, 414, 'validation_error', 'A path parameter is longer than 200 characters.');
      if (err.code === 'FST_ERR_BAD_URL') return sendError(reply, 400, 'validation_error', 'The URL is not valid (bad percent-encoding).');
      request.log.error({ err }, 'request failed in the router');
      return sendError(reply, 500, 'internal_server_error', 'An unexpected error occurred. It has been logged.');
    },
  });
  const metrics = createMetrics(core);

  // JSON bodies are typed: a number where a string belongs is the caller's mistake (422), not
  // something to coerce. Query strings and path parameters are text, coerced to their schema.
  // Unknown body fields are refused (422 naming the field), never silently dropped: a dropped
  // `"enabled": false` once left a forwarding rule on (issue 9).
  const bodyAjv = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: false, allErrors: false, strict: false });
  const textAjv = new Ajv({ removeAdditional: true, useDefaults: true, coerceTypes: 'array', allErrors: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));

  await app.register(fastifyCookie);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Mailstack API',
        version: '1',
        description: "Mailstack's REST API. It speaks Resend's API (same paths, bodies and errors), plus endpoints for workspaces, members and the audit log.",
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key (ms_…)' } } },
      security: [{ bearer: [] }],
    },
    // Each operation's permission as the role name of its security requirement (OpenAPI 3.1 §4.8.30:
    // for schemes other than OAuth the array MAY list the roles required); public routes need none.
    transform: ({ schema, url, route }: any) => {
      const config = (route?.config ?? {}) as { auth?: string; permission?: string };
      if (!schema || schema.security) return { schema, url };
      if (config.auth === 'none') return { schema: { ...schema, security: [] }, url };
      return { schema: { ...schema, security: [{ bearer: config.permission ? [config.permission] : [] }] }, url };
    },
    // servers, an operationId and a response schema for every operation (openapi.ts).
    transformObject: ({ openapiObject }: any) => completeOpenApi(openapiObject, core.settings.publicUrl),
  } as any);
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  // An empty JSON body (the SDK's DELETE sends one) means no body, not a syntax error.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    parseJson(request, body as string, done);
  });

  // U+0000 has no place in any name, address, id or cursor, and PostgreSQL cannot store it in a
  // text column (SQLite can): refuse it at the door so both stores answer the same 422. Absurdly
  // deep nesting is refused here too, before anything walks it recursively.
  app.addHook('preValidation', async (request, reply) => {
    const problem = inputProblem(request.params) ?? inputProblem(request.query) ?? inputProblem(request.body);
    if (problem) return sendError(reply, 422, 'validation_error', problem);
  });

  app.setErrorHandler(errorHandler);
  // A Resend route this node does not serve says which feature it is (not-offered.ts).
  // Paths outside the API are the web app's routes: index.html (web-app.ts).
  const serveApp = webAppRoutes(app);
  app.setNotFoundHandler((request, reply) => {
    if (serveApp(request.url, request.method, reply)) return reply;
    return sendError(reply, 404, 'not_found', notOffered(request) ?? `No endpoint ${request.method} ${request.url.split('?')[0]}`);
  });
  app.decorateRequest('principal', null);
  app.decorateRequest('session', null);
  app.addHook('onRequest', authHook(core));
  // After authentication: both need the caller's workspace.
  app.addHook('onRequest', rateLimitHook(core));
  app.addHook('onSend', requestLogHook(core));
  app.addHook('onResponse', async (request, reply) => {
    metrics.observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.get('/healthz', { config: { auth: 'none' }, schema: { hide: true } as any }, async (_request, reply) => {
    if (!opts.isReady()) return reply.code(503).send({ status: 'shutting_down' });
    await core.db.selectFrom('jobs').select('id').limit(1).execute();
    return { status: 'ok' };
  });
  // /metrics: here unless MAILSTACK_METRICS_ADDRESS gives it a listener of its own (src/metrics/listener.ts);
  // behind MAILSTACK_METRICS_TOKEN when that is set.
  if (!core.settings.metricsAddress) {
    app.get('/metrics', { config: { auth: 'none' }, schema: { hide: true } as any }, async (request, reply) => {
      if (!metricsAuthorized(core, request.headers.authorization)) {
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        return sendError(reply, 401, 'missing_api_key', 'Metrics need `Authorization: Bearer <MAILSTACK_METRICS_TOKEN>`.');
      }
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  }
  app.get('/v1/openapi.json', { config: { auth: 'none' }, schema: { hide: true } as any }, async () => app.swagger());

  authRoutes(app, core);
  apiKeyRoutes(app, core);
  domainRoutes(app, core);
  emailRoutes(app, core);
  workspaceRoutes(app, core);
  webhookRoutes(app, core);
  logRoutes(app, core);
  suppressionRoutes(app, core);
  spamRoutes(app, core);
  deliverabilityRoutes(app, core);
  aliasRoutes(app, core);
  forwardingRoutes(app, core);
  appPasswordRoutes(app, core);
  inboxRoutes(app, core);
  inboxThreadRoutes(app, core);
  inboxDraftRoutes(app, core);
  receivingRoutes(app, core);
  capturedRoutes(app, core);
  emailMetricsRoutes(app, core);
  autoconfigRoutes(app, core);
  mtaStsRoutes(app, core);
  webmailRoutes(app, core);
  privacyRoutes(app, core);
  contactRoutes(app, core);
  templateRoutes(app, core);
  broadcastRoutes(app, core);
  importRoutes(app, core);
  subscribeRoutes(app, core);
  lifecycleRoutes(app, core);
  return app;
}

/** What is wrong with a parsed request part (body, query or params) whatever its schema, or null. */
function inputProblem(value: unknown, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? 'Text may not contain the NUL character (U+0000).' : null;
  if (value === null || typeof value !== 'object') return null;
  if (depth > 64) return 'The request nests objects or arrays more than 64 levels deep.';
  for (const [k, v] of Object.entries(value)) {
    const problem = inputProblem(k, depth + 1) ?? inputProblem(v, depth + 1);
    if (problem) return problem;
  }
  return null;
}
