// Documented response shapes of the campaign routes (Resend's SDK types, index.d.mts), for the
// OpenAPI document only: the routes serialise with plain JSON.stringify, so these never drop or
// coerce a field. They name what clients rely on and allow more.
import { type TSchema, Type } from 'typebox';

const Obj = (props: Record<string, TSchema>) => Type.Object(props, { additionalProperties: true });
const S = Type.String();
const NS = Type.Union([Type.String(), Type.Null()]);
const B = Type.Boolean();
const I = Type.Integer();
const Time = Type.String({ format: 'date-time' });
const NTime = Type.Union([Time, Type.Null()]);
const List = (item: TSchema) => Obj({ object: Type.Literal('list'), has_more: B, data: Type.Array(item) });
const Ref = (object: string) => Obj({ object: Type.Literal(object), id: S });
const Deleted = (object: string) => Obj({ object: Type.Literal(object), id: S, deleted: B });
const Value = Type.Union([Type.String(), Type.Number(), Type.Null()]);

const ContactSummary = Obj({ id: S, email: S, first_name: NS, last_name: NS, unsubscribed: B, created_at: Time });
const Contact = Obj({ object: Type.Literal('contact'), id: S, email: S, first_name: NS, last_name: NS, unsubscribed: B, created_at: Time, properties: Type.Record(S, Obj({ type: S, value: Value })) });
const Property = Obj({ object: Type.Literal('contact_property'), id: S, key: S, type: S, fallback_value: Value, created_at: Time });
const Segment = Obj({ id: S, name: S, created_at: Time });
const Topic = Obj({ id: S, name: S, default_subscription: S, created_at: Time });
const ContactTopic = Obj({ id: S, name: S, description: NS, subscription: S });
const TemplateSummary = Obj({ id: S, name: S, alias: NS, status: S, published_at: NTime, created_at: Time, updated_at: Time });
const Template = Obj({
  object: Type.Literal('template'), id: S, name: S, alias: NS, subject: NS, html: S, text: NS, from: NS, reply_to: Type.Array(S), variables: Type.Array(Obj({ key: S, type: S, fallback_value: Value })),
  status: S, published_at: NTime, created_at: Time, updated_at: Time, has_unpublished_versions: B, current_version_id: S,
});
const BroadcastSummary = Obj({ id: S, name: S, segment_id: NS, status: S, created_at: Time, scheduled_at: NTime, sent_at: NTime });
const Broadcast = Obj({ object: Type.Literal('broadcast'), id: S, name: S, segment_id: NS, topic_id: NS, from: NS, subject: NS, reply_to: Type.Array(S), preview_text: NS, html: NS, text: NS, status: S, created_at: Time, scheduled_at: NTime, sent_at: NTime });
const Recipient = Obj({ id: S, contact_id: NS, email: S, email_id: NS, status: S, skip_reason: NS });
const Import = Obj({ object: Type.Literal('contact_import'), id: S, status: S, created_at: Time, completed_at: NTime, counts: Obj({ total: I, created: I, updated: I, skipped: I, failed: I }), rows_done: I, errors: Type.Array(Obj({ line: I, message: S })) });

const SubscribeForm = Obj({ object: Type.Literal('subscribe_form'), id: S, name: S, segment_id: NS, topic_id: NS, from: S, double_opt_in: B, redirect_url: NS, url: S, created_at: Time });

/** operationId and documented success shape, by `METHOD path`. */
export const CAMPAIGN_SHAPES: Record<string, [string, TSchema]> = {
  'POST /v1/contacts': ['createContact', Ref('contact')],
  'GET /v1/contacts': ['listContacts', List(ContactSummary)],
  'GET /v1/contacts/:idOrEmail': ['getContact', Contact],
  'PATCH /v1/contacts/:idOrEmail': ['updateContact', Ref('contact')],
  'DELETE /v1/contacts/:idOrEmail': ['removeContact', Obj({ object: Type.Literal('contact'), contact: S, deleted: B })],
  'GET /v1/contacts/:idOrEmail/segments': ['listContactSegments', List(Segment)],
  'POST /v1/contacts/:idOrEmail/segments/:segmentId': ['addContactSegment', Obj({ id: S })],
  'DELETE /v1/contacts/:idOrEmail/segments/:segmentId': ['removeContactSegment', Obj({ id: S, deleted: B })],
  'GET /v1/contacts/:idOrEmail/topics': ['listContactTopics', List(ContactTopic)],
  'PATCH /v1/contacts/:idOrEmail/topics': ['updateContactTopics', Obj({ id: S })],
  'POST /v1/audiences/:segmentId/contacts': ['createAudienceContact', Ref('contact')],
  'GET /v1/audiences/:segmentId/contacts': ['listAudienceContacts', List(ContactSummary)],
  'GET /v1/audiences/:segmentId/contacts/:idOrEmail': ['getAudienceContact', Contact],
  'PATCH /v1/audiences/:segmentId/contacts/:idOrEmail': ['updateAudienceContact', Ref('contact')],
  'DELETE /v1/audiences/:segmentId/contacts/:idOrEmail': ['removeAudienceContact', Obj({ object: Type.Literal('contact'), contact: S, deleted: B })],
  'POST /v1/contact-properties': ['createContactProperty', Ref('contact_property')],
  'GET /v1/contact-properties': ['listContactProperties', List(Property)],
  'GET /v1/contact-properties/:id': ['getContactProperty', Property],
  'PATCH /v1/contact-properties/:id': ['updateContactProperty', Ref('contact_property')],
  'DELETE /v1/contact-properties/:id': ['removeContactProperty', Deleted('contact_property')],
  'POST /v1/segments': ['createSegment', Obj({ object: Type.Literal('segment'), id: S, name: S })],
  'GET /v1/segments': ['listSegments', List(Segment)],
  'GET /v1/segments/:id': ['getSegment', Obj({ object: Type.Literal('segment'), id: S, name: S, created_at: Time })],
  'PATCH /v1/segments/:id': ['updateSegment', Ref('segment')],
  'DELETE /v1/segments/:id': ['removeSegment', Deleted('segment')],
  'GET /v1/segments/:id/contacts': ['listSegmentContacts', List(ContactSummary)],
  'POST /v1/topics': ['createTopic', Ref('topic')],
  'GET /v1/topics': ['listTopics', List(Topic)],
  'GET /v1/topics/:id': ['getTopic', Obj({ object: Type.Literal('topic'), id: S, name: S, default_subscription: S, created_at: Time })],
  'PATCH /v1/topics/:id': ['updateTopic', Ref('topic')],
  'DELETE /v1/topics/:id': ['removeTopic', Deleted('topic')],
  'POST /v1/templates': ['createTemplate', Ref('template')],
  'GET /v1/templates': ['listTemplates', List(TemplateSummary)],
  'GET /v1/templates/:id': ['getTemplate', Template],
  'PATCH /v1/templates/:id': ['updateTemplate', Ref('template')],
  'DELETE /v1/templates/:id': ['removeTemplate', Deleted('template')],
  'POST /v1/templates/:id/duplicate': ['duplicateTemplate', Ref('template')],
  'POST /v1/templates/:id/publish': ['publishTemplate', Ref('template')],
  'POST /v1/broadcasts': ['createBroadcast', Obj({ id: S })],
  'GET /v1/broadcasts': ['listBroadcasts', List(BroadcastSummary)],
  'GET /v1/broadcasts/:id': ['getBroadcast', Broadcast],
  'PATCH /v1/broadcasts/:id': ['updateBroadcast', Obj({ id: S })],
  'DELETE /v1/broadcasts/:id': ['removeBroadcast', Deleted('broadcast')],
  'POST /v1/broadcasts/:id/send': ['sendBroadcast', Obj({ id: S })],
  'POST /v1/broadcasts/:id/cancel': ['cancelBroadcast', Ref('broadcast')],
  'POST /v1/broadcasts/:id/duplicate': ['duplicateBroadcast', Ref('broadcast')],
  'GET /v1/broadcasts/:id/recipients': ['listBroadcastRecipients', List(Recipient)],
  'GET /v1/broadcasts/:id/clicked-links': ['listBroadcastClickedLinks', List(Obj({ id: S, url: S, clicks: I, unique_clicks: I }))],
  'POST /v1/subscribe-forms': ['createSubscribeForm', SubscribeForm],
  'GET /v1/subscribe-forms': ['listSubscribeForms', List(SubscribeForm)],
  'GET /v1/subscribe-forms/:id': ['getSubscribeForm', SubscribeForm],
  'DELETE /v1/subscribe-forms/:id': ['removeSubscribeForm', Deleted('subscribe_form')],
  'POST /v1/contacts/imports': ['createContactImport', Ref('contact_import')],
  'GET /v1/contacts/imports': ['listContactImports', List(Import)],
  'GET /v1/contacts/imports/:id': ['getContactImport', Import],
};
