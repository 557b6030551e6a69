// The OpenAPI document at /v1/openapi.json: built by @fastify/swagger from the routes' schemas, then
// completed here so a client generator gets a usable client — a `servers` entry, an
// `operationId` for every operation and a response schema for every one.
//
// Implementation notes:
// - A route that declares its own `operationId` and response schema (every new route must) is left
//   as it is. The routes written before that rule get theirs from RESPONSES below, which follow
//   Resend's SDK types (node_modules/resend/dist/index.d.mts) for Resend's endpoints.
// - These shapes describe the documents only; they are not Fastify response schemas, so they never
//   change what a handler sends (fast-json-stringify would drop or coerce fields). They name the
//   fields clients rely on and allow more (`additionalProperties: true`).
// - src/http/openapi.test.ts generates a typed client from the document, compiles calls against
//   it, and checks real responses against these shapes.
import { type TSchema, Type } from 'typebox';

const Obj = (props: Record<string, TSchema>, description?: string) => Type.Object(props, { additionalProperties: true, ...(description ? { description } : {}) });
const S = Type.String();
const NS = Type.Union([Type.String(), Type.Null()]);
const B = Type.Boolean();
const I = Type.Integer();
const Time = Type.String({ format: 'date-time' });
const Opt = Type.Optional;
const Strings = Type.Array(Type.String());
const List = (item: TSchema) => Obj({ object: Type.Literal('list'), has_more: B, data: Type.Array(item) });
/** A whole, short list (no pages): Resend's shape without has_more. */
const All = (item: TSchema) => Obj({ object: Type.Literal('list'), has_more: Opt(B), data: Type.Array(item) });
const Ref = (object: string) => Obj({ object: Type.Literal(object), id: S });
const Deleted = (object: string) => Obj({ object: Type.Literal(object), id: S, deleted: B });
const Binary = (type: string) => ({ description: 'The content', content: { [type]: { schema: Type.String({ format: 'binary' }) } } });

const Capabilities = Obj({ sending: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]), receiving: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]) });
const DomainSummary = Obj({ id: S, name: S, status: S, created_at: Time, region: S, capabilities: Capabilities });
const DomainRecord = Obj({ record: S, name: S, type: S, ttl: S, status: S, value: S, priority: Opt(I), required: B });
const Domain = Obj({ object: Type.Literal('domain'), id: S, name: S, status: S, created_at: Time, region: S, capabilities: Capabilities, records: Type.Array(DomainRecord) });
const ApiKey = Obj({ id: S, name: S, created_at: Time });
const Tag = Obj({ name: S, value: S });
const Email = Obj({
  object: Type.Literal('email'), id: S, from: S, to: Strings, cc: Type.Union([Strings, Type.Null()]), bcc: Type.Union([Strings, Type.Null()]),
  reply_to: Type.Union([Strings, Type.Null()]), subject: S, html: NS, text: NS, created_at: Time, last_event: S, scheduled_at: NS, tags: Opt(Type.Array(Tag)),
});
const EmailSummary = Obj({ id: S, from: S, to: Strings, subject: S, created_at: Time, last_event: S });
const Attachment = Obj({ object: Opt(Type.Literal('attachment')), id: S, filename: NS, content_type: S, size: I });
const Workspace = Obj({ object: Type.Literal('workspace'), id: S, name: S });
const Member = Obj({ object: Type.Literal('member'), id: S, email: S, role: S });
const Invitation = Obj({ object: Type.Literal('invitation'), id: S, email: S, role: S, status: S, created_at: Time, expires_at: Time });
const AuditEntry = Obj({ id: S, action: S, created_at: Time });
const Webhook = Obj({ object: Opt(Type.Literal('webhook')), id: S, endpoint: S, events: Strings, status: S, created_at: Time });
const WebhookEvent = Obj({ id: S, type: S, created_at: Time });
const Attempt = Obj({ id: Opt(S), status: Opt(S), created_at: Opt(Time) });
const Log = Obj({ id: S, method: S, endpoint: S, response_status: I, created_at: Time });
const Suppression = Obj({ object: Opt(Type.Literal('suppression')), id: S, email: S, origin: S, created_at: Time });
const Alias = Obj({ object: Type.Literal('alias'), id: S, address: S, inbox_ids: Strings });
const CatchAll = Obj({ object: Type.Literal('catch_all'), inbox_id: NS });
const Postmaster = Obj({ object: Type.Literal('postmaster'), domain_id: S, domain: S, address: S, inbox_id: NS, delivers_to: Type.Union([Obj({ inbox_id: S, email_address: S }), Type.Null()]) });
const Forwarding = Obj({ object: Type.Literal('forwarding_rule'), id: S, to: S, keep_copy: B, enabled: B });
const Inbox = Obj({ object: Opt(Type.Literal('inbox')), id: S, email_address: S, created_at: Time });
const Agent = Obj({ object: Type.Literal('inbox_agent') });
const Label = Obj({ object: Opt(Type.Literal('inbox_label')), id: S, name: S });
const Thread = Obj({ object: Opt(Type.Literal('inbox_thread')), id: S, subject: NS });
const ThreadEmail = Obj({ id: S, from: S, to: Strings, subject: NS, created_at: Time });
const Draft = Obj({ object: Type.Literal('inbox_draft'), id: S });
const Received = Obj({ object: Opt(S), id: S, from: S, to: Strings, subject: NS, created_at: Time });
const Session = Obj({ object: Opt(Type.Literal('session')), user: Opt(Obj({ id: S, email: S })), csrf_token: Opt(S) });
const SessionList = List(Obj({ id: S, created_at: Time }));
const Sent = Obj({ id: S });

type Entry = [operationId: string, response: TSchema | ReturnType<typeof Binary>, status?: number];

/** Operation ids and response shapes of the routes that do not declare their own. */
const RESPONSES: Record<string, Entry> = {
  'POST /v1/auth/signup': ['signUp', Session, 201],
  'POST /v1/auth/login': ['logIn', Session],
  'POST /v1/auth/magic-link': ['requestMagicLink', Obj({ object: Type.Literal('magic_link'), sent: B, message: S })],
  'POST /v1/auth/magic-link/verify': ['verifyMagicLink', Session],
  'GET /v1/auth/session': ['getSession', Session],
  'POST /v1/auth/workspace': ['selectSessionWorkspace', Session],
  'POST /v1/auth/password': ['setPassword', Obj({ object: Type.Literal('user'), id: S, has_password: B })],
  'POST /v1/auth/logout': ['logOut', Deleted('session')],
  'GET /v1/auth/sessions': ['listSessions', SessionList],
  'DELETE /v1/auth/sessions/{id}': ['revokeSession', Deleted('session')],
  'GET /v1/api-keys': ['listApiKeys', List(ApiKey)],
  'POST /v1/api-keys': ['createApiKey', Obj({ id: S, token: S }), 201],
  'PATCH /v1/api-keys/{id}': ['updateApiKey', Ref('api_key')],
  'DELETE /v1/api-keys/{id}': ['removeApiKey', Deleted('api_key')],
  'POST /v1/domains': ['createDomain', Domain, 201],
  'GET /v1/domains': ['listDomains', List(DomainSummary)],
  'GET /v1/domains/{id}': ['getDomain', Domain],
  'PATCH /v1/domains/{id}': ['updateDomain', Ref('domain')],
  'DELETE /v1/domains/{id}': ['removeDomain', Deleted('domain')],
  'POST /v1/domains/{id}/verify': ['verifyDomain', Ref('domain')],
  'POST /v1/emails': ['sendEmail', Sent],
  'GET /v1/emails': ['listEmails', List(EmailSummary)],
  'POST /v1/emails/batch': ['sendBatch', Obj({ data: Type.Array(Sent) })],
  'GET /v1/emails/{id}': ['getEmail', Email],
  'PATCH /v1/emails/{id}': ['updateEmail', Ref('email')],
  'POST /v1/emails/{id}/cancel': ['cancelEmail', Ref('email')],
  'GET /v1/emails/{id}/attachments': ['listEmailAttachments', List(Attachment)],
  'GET /v1/emails/{id}/attachments/{attachmentId}': ['getEmailAttachment', Attachment],
  'GET /v1/emails/{id}/attachments/{attachmentId}/content': ['downloadEmailAttachment', Binary('application/octet-stream')],
  'GET /v1/workspace': ['getWorkspace', Workspace],
  'PATCH /v1/workspace': ['updateWorkspace', Workspace],
  'GET /v1/members': ['listMembers', List(Member)],
  'POST /v1/members': ['addMember', Invitation, 201],
  'GET /v1/invitations': ['listInvitations', All(Invitation)],
  'DELETE /v1/invitations/{id}': ['revokeInvitation', Deleted('invitation')],
  'POST /v1/invitations/accept': ['acceptInvitation', Session],
  'PATCH /v1/members/{user_id}': ['updateMember', Member],
  'DELETE /v1/members/{user_id}': ['removeMember', Deleted('member')],
  'GET /v1/audit-log': ['listAuditLog', List(AuditEntry)],
  'GET /v1/workspace/retention': ['getWorkspaceRetention', Obj({ object: Type.Literal('retention'), windows: Type.Array(Obj({ kind: S, setting: NS, can_shorten: B })) })],
  'PATCH /v1/workspace/retention': ['updateWorkspaceRetention', Obj({ object: Type.Literal('retention'), windows: Type.Array(Obj({ kind: S, setting: NS, can_shorten: B })) })],
  'DELETE /v1/workspace': ['closeWorkspace', Obj({ object: Type.Literal('workspace'), id: S, closed: B, closed_at: S, deletion_at: S, message: S })],
  'POST /v1/auth/workspaces/{id}/reopen': ['reopenWorkspace', Obj({ object: Type.Literal('workspace'), id: S, closed: B })],
  'DELETE /v1/auth/account': ['closeAccount', Obj({ object: Type.Literal('user'), id: S, closed: B, closed_at: S, deletion_at: S, message: S, workspaces_closed: Type.Array(S) })],
  'GET /v1/content-reads': ['listContentReads', List(Obj({ id: S, object: Type.Literal('content_read'), created_at: S }))],
  'GET /v1/usage': ['getUsage', Obj({ object: Type.Literal('usage'), emails: Obj({ daily: Obj({ sent: I, received: I }), monthly: Obj({ sent: I, received: I }) }), storage: Obj({ used_bytes: I }) })],
  'POST /v1/webhooks': ['createWebhook', Obj({ object: Opt(Type.Literal('webhook')), id: S, signing_secret: S }), 201],
  'GET /v1/webhooks': ['listWebhooks', List(Webhook)],
  'GET /v1/webhooks/{id}': ['getWebhook', Webhook],
  'PATCH /v1/webhooks/{id}': ['updateWebhook', Ref('webhook')],
  'DELETE /v1/webhooks/{id}': ['removeWebhook', Deleted('webhook')],
  'POST /v1/webhooks/{id}/signing-secret/rotate': ['rotateWebhookSigningSecret', Obj({ id: S, signing_secret: S })],
  'GET /v1/webhooks/{id}/events': ['listWebhookEvents', List(WebhookEvent)],
  'GET /v1/webhooks/{id}/events/{eventId}': ['getWebhookEvent', WebhookEvent],
  'POST /v1/webhooks/{id}/events/{eventId}/replay': ['replayWebhookEvent', Obj({ object: Opt(S), id: Opt(S) })],
  'GET /v1/webhooks/{id}/events/{eventId}/attempts': ['listWebhookEventAttempts', List(Attempt)],
  'GET /v1/logs': ['listLogs', List(Log)],
  'GET /v1/logs/{id}': ['getLog', Log],
  'POST /v1/suppressions': ['addSuppression', Ref('suppression'), 201],
  'GET /v1/suppressions': ['listSuppressions', List(Suppression)],
  'GET /v1/suppressions/{idOrEmail}': ['getSuppression', Suppression],
  'DELETE /v1/suppressions/{idOrEmail}': ['removeSuppression', Deleted('suppression')],
  'POST /v1/suppressions/batch/add': ['batchAddSuppressions', Obj({ data: Type.Array(Obj({ id: S, email: Opt(S) })) })],
  'POST /v1/suppressions/batch/remove': ['batchRemoveSuppressions', Obj({ data: Type.Array(Obj({ email: Opt(S) })) })],
  'POST /v1/aliases': ['createAlias', Alias, 201],
  'GET /v1/aliases': ['listAliases', List(Alias)],
  'GET /v1/aliases/{id}': ['getAlias', Alias],
  'PATCH /v1/aliases/{id}': ['updateAlias', Alias],
  'DELETE /v1/aliases/{id}': ['removeAlias', Deleted('alias')],
  'GET /v1/domains/{id}/catch-all': ['getCatchAll', CatchAll],
  'PUT /v1/domains/{id}/catch-all': ['setCatchAll', CatchAll],
  'DELETE /v1/domains/{id}/catch-all': ['removeCatchAll', CatchAll],
  'GET /v1/spam/lists': ['listSpamListEntries', Obj({ object: Type.Literal('list'), data: Type.Array(Obj({ id: S })) })],
  'POST /v1/spam/lists': ['addSpamListEntry', Obj({ id: S })],
  'DELETE /v1/spam/lists/{id}': ['removeSpamListEntry', Obj({})],
  'GET /v1/spam/settings': ['getSpamSettings', Obj({})],
  'PATCH /v1/spam/settings': ['updateSpamSettings', Obj({})],
  'GET /v1/deliverability': ['getDeliverability', Obj({ object: Type.Literal('deliverability'), thresholds: Obj({}), sending: Obj({}), last_7_days: Obj({}), last_30_days: Obj({}), domains: Type.Array(Obj({ id: S, name: S })) })],
  'GET /v1/domains/{id}/postmaster': ['getPostmaster', Postmaster],
  'PUT /v1/domains/{id}/postmaster': ['setPostmaster', Postmaster],
  'DELETE /v1/domains/{id}/postmaster': ['removePostmaster', Postmaster],
  'GET /v1/inboxes/{id}/forwarding': ['listForwardingRules', List(Forwarding)],
  'POST /v1/inboxes/{id}/forwarding': ['createForwardingRule', Forwarding, 201],
  'GET /v1/inboxes/{id}/forwarding/{ruleId}': ['getForwardingRule', Forwarding],
  'PATCH /v1/inboxes/{id}/forwarding/{ruleId}': ['updateForwardingRule', Forwarding],
  'DELETE /v1/inboxes/{id}/forwarding/{ruleId}': ['removeForwardingRule', Deleted('forwarding_rule')],
  'POST /v1/inboxes': ['createInbox', Ref('inbox'), 201],
  'GET /v1/inboxes': ['listInboxes', List(Inbox)],
  'GET /v1/inboxes/{id}': ['getInbox', Inbox],
  'PATCH /v1/inboxes/{id}': ['updateInbox', Inbox],
  'DELETE /v1/inboxes/{id}': ['removeInbox', Deleted('inbox')],
  'GET /v1/inboxes/{id}/agent': ['getInboxAgent', Agent],
  'PATCH /v1/inboxes/{id}/agent': ['updateInboxAgent', Agent],
  'GET /v1/inboxes/{id}/labels': ['listInboxLabels', All(Label)],
  'POST /v1/inboxes/{id}/labels': ['createInboxLabel', Label, 201],
  'PATCH /v1/inboxes/{id}/labels/{labelId}': ['updateInboxLabel', Label],
  'DELETE /v1/inboxes/{id}/labels/{labelId}': ['removeInboxLabel', Deleted('inbox_label')],
  'GET /v1/inboxes/{id}/threads': ['listInboxThreads', List(Thread)],
  'GET /v1/inboxes/{id}/threads/search': ['searchInboxThreads', List(Thread)],
  'GET /v1/inboxes/{id}/threads/{threadId}': ['getInboxThread', Thread],
  'PATCH /v1/inboxes/{id}/threads/{threadId}': ['updateInboxThread', Thread],
  'DELETE /v1/inboxes/{id}/threads/{threadId}': ['removeInboxThread', Deleted('inbox_thread')],
  'GET /v1/inboxes/{id}/threads/{threadId}/emails': ['listInboxThreadEmails', List(ThreadEmail)],
  'GET /v1/inboxes/{id}/threads/{threadId}/emails/{emailId}': ['getInboxThreadEmail', ThreadEmail],
  'POST /v1/inboxes/{id}/threads/{threadId}/emails/{emailId}/reply': ['replyToInboxThreadEmail', Sent],
  'POST /v1/inboxes/{id}/threads/{threadId}/emails/{emailId}/forward': ['forwardInboxThreadEmail', Sent],
  'POST /v1/inboxes/{id}/threads/{threadId}/labels': ['addInboxThreadLabels', Thread],
  'PUT /v1/inboxes/{id}/threads/{threadId}/labels': ['setInboxThreadLabels', Thread],
  'DELETE /v1/inboxes/{id}/threads/{threadId}/labels/{labelId}': ['removeInboxThreadLabel', Thread],
  'GET /v1/inboxes/{id}/drafts': ['listInboxDrafts', List(Draft)],
  'POST /v1/inboxes/{id}/drafts': ['createInboxDraft', Draft, 201],
  'GET /v1/inboxes/{id}/drafts/{draftId}': ['getInboxDraft', Draft],
  'PATCH /v1/inboxes/{id}/drafts/{draftId}': ['updateInboxDraft', Draft],
  'DELETE /v1/inboxes/{id}/drafts/{draftId}': ['removeInboxDraft', Deleted('inbox_draft')],
  'POST /v1/inboxes/{id}/drafts/{draftId}/send': ['sendInboxDraft', Sent],
  'GET /v1/emails/receiving': ['listReceivedEmails', List(Received)],
  'GET /v1/emails/receiving/{id}': ['getReceivedEmail', Received],
  'GET /v1/emails/receiving/{id}/attachments': ['listReceivedEmailAttachments', List(Attachment)],
  'GET /v1/emails/receiving/{id}/attachments/{attachmentId}': ['getReceivedEmailAttachment', Attachment],
  'GET /v1/emails/receiving/{id}/attachments/{attachmentId}/content': ['downloadReceivedEmailAttachment', Binary('application/octet-stream')],
  'GET /v1/emails/receiving/{id}/raw': ['downloadReceivedEmailRaw', Binary('message/rfc822')],
  'GET /v1/workspace/mail-clients': ['getMailClientPolicy', Obj({ object: Type.Literal('mail_client_policy'), mailbox_account_passwords: B })],
  'PATCH /v1/workspace/mail-clients': ['updateMailClientPolicy', Obj({ object: Type.Literal('mail_client_policy'), mailbox_account_passwords: B })],
};

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options'] as const;

/** An operationId from the method and path, for a route that has none and is not listed above. */
function derivedOperationId(method: string, path: string): string {
  const words = path.replace(/^\/v1\//, '').split('/').map((seg) => (seg.startsWith('{') ? `by-${seg.slice(1, -1)}` : seg));
  return [method, ...words].join('-').replace(/[^A-Za-z0-9]+(.)/g, (_, c: string) => c.toUpperCase());
}

function withResponse(op: any, entry: Entry): void {
  const [, schema, status = 200] = entry;
  op.responses ??= {};
  const code = String(status);
  const existing = op.responses[code] ?? op.responses['200'] ?? op.responses['201'];
  if (existing?.content) return;
  const content = 'content' in (schema as object) ? (schema as ReturnType<typeof Binary>).content : { 'application/json': { schema } };
  // @fastify/swagger writes a content-less "200: Default Response" for a route without a schema.
  if (code !== '200' && op.responses['200'] && !op.responses['200'].content) delete op.responses['200'];
  op.responses[code] = { description: existing?.description && existing.description !== 'Default Response' ? existing.description : 'Success', content };
}

/** Completes the generated document: servers, operationIds, response schemas. */
export function completeOpenApi(doc: any, serverUrl: string): any {
  doc.servers = [{ url: serverUrl, description: 'This Mailstack node (MAILSTACK_PUBLIC_URL)' }];
  const seen = new Set<string>();
  for (const [path, item] of Object.entries<any>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const entry = RESPONSES[`${method.toUpperCase()} ${path}`];
      op.operationId ??= entry?.[0] ?? derivedOperationId(method, path);
      // Two routes must never share an id (generators would merge them).
      while (seen.has(op.operationId)) op.operationId += '_';
      seen.add(op.operationId);
      if (entry) withResponse(op, entry);
    }
  }
  return doc;
}

/** The response shape documented for an operation (for the test that checks real answers). */
export function documentedResponse(method: string, path: string): TSchema | null {
  const entry = RESPONSES[`${method.toUpperCase()} ${path}`];
  return entry && !('content' in (entry[1] as object)) ? (entry[1] as TSchema) : null;
}
