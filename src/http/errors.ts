// Every HTTP error body is Resend's shape: { statusCode, name, message }.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CoreError } from '../core/core.ts';

export interface ErrorBody {
  statusCode: number;
  name: string;
  message: string;
}

export function sendError(reply: FastifyReply, statusCode: number, name: string, message: string): FastifyReply {
  return reply.code(statusCode).type('application/json').send({ statusCode, name, message } satisfies ErrorBody);
}

/** Describes Ajv's first complaint the way a person would say it. */
function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return err.message;
  const where = (err.validationContext ?? 'body') as string;
  const field = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const params = first.params as Record<string, unknown>;
  if (first.keyword === 'additionalProperties') {
    const unknown = [field, params.additionalProperty].filter(Boolean).join('.');
    return `The \`${unknown}\` field is not known here: remove it (check its spelling).`;
  }
  if (first.keyword === 'required') return `The \`${[field, params.missingProperty].filter(Boolean).join('.')}\` field is required.`;
  const subject = field ? `The \`${field}\` field` : where === 'body' ? 'The request body' : `The ${where}`;
  return `${subject} ${first.message ?? 'is invalid'}.`;
}

export function errorHandler(err: FastifyError & { retryAfterSeconds?: number }, request: FastifyRequest, reply: FastifyReply) {
  if (err instanceof CoreError) {
    if (err.retryAfterSeconds) reply.header('retry-after', String(err.retryAfterSeconds));
    return sendError(reply, err.status, err.code, err.message);
  }
  if (err.validation) return sendError(reply, 422, 'validation_error', validationMessage(err));
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return sendError(reply, 413, 'validation_error', `The request body is larger than the limit of ${request.routeOptions.bodyLimit ?? 0} bytes.`);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return sendError(reply, 400, 'validation_error', 'The request body is not valid JSON.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendError(reply, 415, 'validation_error', 'Send the request body as application/json.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return sendError(reply, 400, 'validation_error', 'The Content-Length header does not match the body.');
  }
  if (err instanceof SyntaxError || err.statusCode === 400) {
    return sendError(reply, 400, 'validation_error', err instanceof SyntaxError ? 'The request body is not valid JSON.' : err.message);
  }
  if (err.statusCode === 429) return sendError(reply, 429, 'rate_limit_exceeded', err.message);
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return sendError(reply, err.statusCode, 'validation_error', err.message);
  }
  request.log.error({ err }, 'request failed');
  return sendError(reply, 500, 'internal_server_error', 'An unexpected error occurred. It has been logged.');
}
