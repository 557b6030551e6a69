// /v1/contacts, /v1/contact-properties, /v1/segments, /v1/topics (and the deprecated
// /v1/audiences/:id/contacts the SDK still calls): Resend's contact API. Thin: each handler
// resolves the caller's workspace and calls src/campaigns/; bodies are checked there, with errors
// naming the field.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Permission } from '../../accounts/roles.ts';
import {
  createContact, createProperty, getContact, getProperty, listContacts, listProperties, removeContact, removeProperty, updateContact, updateProperty,
} from '../../campaigns/contacts.ts';
import {
  addContactSegment, contactSegments, contactTopics, createSegment, createTopic, getSegment, getTopic, listSegments, listTopics, removeContactSegment,
  removeSegment, removeTopic, updateContactTopics, updateSegment, updateTopic,
} from '../../campaigns/audience.ts';
import { createTemplate, duplicateTemplate, getTemplate, listTemplates, publishTemplate, removeTemplate, updateTemplate } from '../../campaigns/templates.ts';
import type { Core } from '../../core/core.ts';
import { principal } from '../auth.ts';
import { CAMPAIGN_SHAPES } from './campaign-shapes.ts';
import { PageQuery, pageOf } from '../pagination.ts';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const Key = Type.String({ minLength: 1, maxLength: 320 });

/** Registers one route: its permission, a summary for the OpenAPI document, and the handler. */
export function campaignRoute(app: FastifyInstance, tag: string) {
  return (method: Method, url: string, permission: Permission, summary: string, handler: (ws: string, request: FastifyRequest) => Promise<unknown>, status = 200) => {
    const params = [...url.matchAll(/:(\w+)/g)].map((m) => m[1]);
    const shape = CAMPAIGN_SHAPES[`${method} ${url}`];
    if (!shape) throw new Error(`no documented shape for ${method} ${url} (campaign-shapes.ts)`);
    app.route({
      method,
      url,
      config: { permission },
      // The response schema documents; it must never reshape what the handler answers.
      serializerCompiler: () => (data: unknown) => JSON.stringify(data),
      schema: {
        tags: [tag],
        summary,
        operationId: shape[0],
        response: { [status]: shape[1] },
        ...(params.length ? { params: Type.Object(Object.fromEntries(params.map((p) => [p, Key]))) } : {}),
        ...(method === 'GET' ? { querystring: PageQuery } : {}),
      },
      handler: async (request, reply) => {
        const result = await handler(principal(request).workspaceId, request);
        reply.code(status);
        return result;
      },
    });
  };
}

const p = (r: FastifyRequest) => r.params as Record<string, string>;
const q = (r: FastifyRequest) => r.query as Record<string, any>;

export function contactRoutes(app: FastifyInstance, core: Core) {
  const route = campaignRoute(app, 'Contacts');
  route('POST', '/v1/contacts', 'campaigns:manage', 'Create a contact (with properties, segments and topics)', (ws, r) => createContact(core, ws, r.body), 201);
  route('GET', '/v1/contacts', 'campaigns:read', 'List contacts, newest first (segment_id filters)', (ws, r) => listContacts(core, ws, pageOf(q(r)), q(r).segment_id ?? q(r).audience_id));
  route('GET', '/v1/contacts/:idOrEmail', 'campaigns:read', 'Get a contact by id or address, with its properties', (ws, r) => getContact(core, ws, p(r).idOrEmail));
  route('PATCH', '/v1/contacts/:idOrEmail', 'campaigns:manage', 'Update a contact by id or address', (ws, r) => updateContact(core, ws, p(r).idOrEmail, r.body));
  route('DELETE', '/v1/contacts/:idOrEmail', 'campaigns:manage', 'Remove a contact by id or address', (ws, r) => removeContact(core, ws, p(r).idOrEmail));
  route('GET', '/v1/contacts/:idOrEmail/segments', 'campaigns:read', "A contact's segments", (ws, r) => contactSegments(core, ws, p(r).idOrEmail, pageOf(q(r))));
  route('POST', '/v1/contacts/:idOrEmail/segments/:segmentId', 'campaigns:manage', 'Add a contact to a segment', (ws, r) => addContactSegment(core, ws, p(r).idOrEmail, p(r).segmentId), 201);
  route('DELETE', '/v1/contacts/:idOrEmail/segments/:segmentId', 'campaigns:manage', 'Remove a contact from a segment', (ws, r) => removeContactSegment(core, ws, p(r).idOrEmail, p(r).segmentId));
  route('GET', '/v1/contacts/:idOrEmail/topics', 'campaigns:read', "A contact's subscription to every topic", (ws, r) => contactTopics(core, ws, p(r).idOrEmail));
  route('PATCH', '/v1/contacts/:idOrEmail/topics', 'campaigns:manage', "Set a contact's topic subscriptions", (ws, r) => updateContactTopics(core, ws, p(r).idOrEmail, r.body));
  // The deprecated audience paths: an audience is a segment.
  route('POST', '/v1/audiences/:segmentId/contacts', 'campaigns:manage', 'Create a contact in a segment (deprecated audiences path)', (ws, r) => createContact(core, ws, { ...(r.body as object), segments: [{ id: p(r).segmentId }] }), 201);
  route('GET', '/v1/audiences/:segmentId/contacts', 'campaigns:read', "A segment's contacts (deprecated audiences path)", (ws, r) => listContacts(core, ws, pageOf(q(r)), p(r).segmentId));
  route('GET', '/v1/audiences/:segmentId/contacts/:idOrEmail', 'campaigns:read', 'Get a contact (deprecated audiences path)', (ws, r) => getContact(core, ws, p(r).idOrEmail));
  route('PATCH', '/v1/audiences/:segmentId/contacts/:idOrEmail', 'campaigns:manage', 'Update a contact (deprecated audiences path)', (ws, r) => updateContact(core, ws, p(r).idOrEmail, r.body));
  route('DELETE', '/v1/audiences/:segmentId/contacts/:idOrEmail', 'campaigns:manage', 'Remove a contact (deprecated audiences path)', (ws, r) => removeContact(core, ws, p(r).idOrEmail));

  const prop = campaignRoute(app, 'Contact properties');
  prop('POST', '/v1/contact-properties', 'campaigns:manage', 'Define a typed contact property with a fallback', (ws, r) => createProperty(core, ws, r.body), 201);
  prop('GET', '/v1/contact-properties', 'campaigns:read', 'List contact properties', (ws, r) => listProperties(core, ws, pageOf(q(r))));
  prop('GET', '/v1/contact-properties/:id', 'campaigns:read', 'Get a contact property', (ws, r) => getProperty(core, ws, p(r).id));
  prop('PATCH', '/v1/contact-properties/:id', 'campaigns:manage', "Change a contact property's fallback", (ws, r) => updateProperty(core, ws, p(r).id, r.body));
  prop('DELETE', '/v1/contact-properties/:id', 'campaigns:manage', 'Remove a contact property', (ws, r) => removeProperty(core, ws, p(r).id));

  const seg = campaignRoute(app, 'Segments');
  seg('POST', '/v1/segments', 'campaigns:manage', 'Create a segment', (ws, r) => createSegment(core, ws, r.body), 201);
  seg('GET', '/v1/segments', 'campaigns:read', 'List segments', (ws, r) => listSegments(core, ws, pageOf(q(r))));
  seg('GET', '/v1/segments/:id', 'campaigns:read', 'Get a segment', (ws, r) => getSegment(core, ws, p(r).id));
  seg('PATCH', '/v1/segments/:id', 'campaigns:manage', 'Rename a segment', (ws, r) => updateSegment(core, ws, p(r).id, r.body));
  seg('DELETE', '/v1/segments/:id', 'campaigns:manage', 'Remove a segment (its contacts stay)', (ws, r) => removeSegment(core, ws, p(r).id));
  seg('GET', '/v1/segments/:id/contacts', 'campaigns:read', "A segment's contacts", (ws, r) => listContacts(core, ws, pageOf(q(r)), p(r).id));

  const topic = campaignRoute(app, 'Topics');
  topic('POST', '/v1/topics', 'campaigns:manage', 'Create a topic (opt_in or opt_out by default)', (ws, r) => createTopic(core, ws, r.body), 201);
  topic('GET', '/v1/topics', 'campaigns:read', 'List topics', (ws) => listTopics(core, ws));
  topic('GET', '/v1/topics/:id', 'campaigns:read', 'Get a topic', (ws, r) => getTopic(core, ws, p(r).id));
  topic('PATCH', '/v1/topics/:id', 'campaigns:manage', 'Rename or describe a topic', (ws, r) => updateTopic(core, ws, p(r).id, r.body));
  topic('DELETE', '/v1/topics/:id', 'campaigns:manage', 'Remove a topic', (ws, r) => removeTopic(core, ws, p(r).id));
}

export function templateRoutes(app: FastifyInstance, core: Core) {
  const route = campaignRoute(app, 'Templates');
  route('POST', '/v1/templates', 'campaigns:manage', 'Create a template (a draft until published)', (ws, r) => createTemplate(core, ws, r.body), 201);
  route('GET', '/v1/templates', 'campaigns:read', 'List templates', (ws, r) => listTemplates(core, ws, pageOf(q(r))));
  route('GET', '/v1/templates/:id', 'campaigns:read', 'Get a template (its current version) by id or alias', (ws, r) => getTemplate(core, ws, p(r).id));
  route('PATCH', '/v1/templates/:id', 'campaigns:manage', 'Edit a template (a published one gets a new unpublished version)', (ws, r) => updateTemplate(core, ws, p(r).id, r.body));
  route('DELETE', '/v1/templates/:id', 'campaigns:manage', 'Remove a template', (ws, r) => removeTemplate(core, ws, p(r).id));
  route('POST', '/v1/templates/:id/duplicate', 'campaigns:manage', 'Copy a template as a new draft', (ws, r) => duplicateTemplate(core, ws, p(r).id), 201);
  route('POST', '/v1/templates/:id/publish', 'campaigns:manage', 'Publish the current version (sends use it)', (ws, r) => publishTemplate(core, ws, p(r).id));
}
