// Contacts, properties, segments and topics through the real SDK against a real node: the full
// lifecycle of each, one contact per address, typed properties, and the walls between workspaces.
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, startTestServer } from '../testkit/server.ts';

let server: TestServer;
let resend: Resend;
let other: Resend;
let otherKey: string;

beforeAll(async () => {
  server = await startTestServer();
  resend = server.resend((await server.setup('owner@contacts.test', 'Contacts')).apiKey);
  otherKey = (await server.setup('owner@other.test', 'Other')).apiKey;
  other = server.resend(otherKey);
});
afterAll(async () => {
  await server?.stop();
});

const ok = <T>(r: { data: T | null; error: any }): T => {
  expect(r.error).toBeNull();
  return r.data!;
};

describe('contact properties', () => {
  it('create, list, get, update, remove; a wrong-typed value is a 422 naming the property', async () => {
    const plan = ok(await resend.contactProperties.create({ key: 'plan', type: 'string', fallbackValue: 'free' }));
    const seats = ok(await resend.contactProperties.create({ key: 'seats', type: 'number' }));
    const got = ok(await resend.contactProperties.get(plan.id));
    expect(got).toMatchObject({ object: 'contact_property', key: 'plan', type: 'string', fallbackValue: 'free' });
    const list = ok(await resend.contactProperties.list());
    expect(list.data.map((p) => p.key).sort()).toEqual(['plan', 'seats']);
    ok(await resend.contactProperties.update({ id: plan.id, fallbackValue: 'starter' }));
    expect(ok(await resend.contactProperties.get(plan.id)).fallbackValue).toBe('starter');
    const dup = await resend.contactProperties.create({ key: 'plan', type: 'string' });
    expect(dup.error?.statusCode).toBe(409);

    const bad = await resend.contacts.create({ email: 'typed@example.org', properties: { seats: 'many' } });
    expect(bad.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    expect(bad.error!.message).toContain('`seats`');
    const unknown = await resend.contacts.create({ email: 'typed@example.org', properties: { nope: 1 } });
    expect(unknown.error!.message).toContain('`nope`');
    // Deeply nested values are refused, never stored.
    let deep: any = 'x';
    for (let i = 0; i < 40; i++) deep = { deep };
    const nested = await resend.contacts.create({ email: 'typed@example.org', properties: { plan: deep } });
    expect(nested.error).toMatchObject({ statusCode: 422 });
    expect(nested.error!.message).toContain('`plan`');

    const c = ok(await resend.contacts.create({ email: 'typed@example.org', properties: { seats: 3 } }));
    const full = ok(await resend.contacts.get(c.id));
    expect(full.properties).toEqual({ seats: { type: 'number', value: 3 }, plan: { type: 'string', value: 'starter' } });
    expect(ok(await resend.contactProperties.remove(seats.id))).toMatchObject({ deleted: true });
    expect((await other.contactProperties.get(plan.id)).error?.statusCode).toBe(404);
  });
});

describe('contacts', () => {
  it('the full lifecycle by id and by address', async () => {
    const created = ok(await resend.contacts.create({ email: 'Ada@Example.COM', firstName: 'Ada', lastName: 'Lovelace' }));
    expect(created.object).toBe('contact');
    const byEmail = ok(await resend.contacts.get({ email: 'ada@example.com' }));
    expect(byEmail).toMatchObject({ id: created.id, email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace', unsubscribed: false });
    ok(await resend.contacts.update({ email: 'ADA@example.com', firstName: null, unsubscribed: true }));
    const after = ok(await resend.contacts.get(created.id));
    expect(after).toMatchObject({ first_name: null, last_name: 'Lovelace', unsubscribed: true });
    const list = ok(await resend.contacts.list());
    expect(list.data.map((c) => c.email)).toContain('ada@example.com');
    const removed = ok(await resend.contacts.remove({ email: 'ada@example.com' }));
    expect(removed).toMatchObject({ object: 'contact', contact: created.id, deleted: true });
    expect((await resend.contacts.get(created.id)).error?.statusCode).toBe(404);
  });

  it('is one contact per address: case and IDN forms are the same, plus-addresses are not', async () => {
    ok(await resend.contacts.create({ email: 'jo@bücher.example' }));
    const again = await resend.contacts.create({ email: 'JO@xn--bcher-kva.example' });
    expect(again.error?.statusCode).toBe(409);
    ok(await resend.contacts.create({ email: 'jo+news@bücher.example' }));
    expect(ok(await resend.contacts.get({ email: 'jo@XN--BCHER-KVA.example' })).email).toBe('jo@xn--bcher-kva.example');
  });

  it('refuses what is not an address, with the field named', async () => {
    for (const email of ['nope', 'a@b', '<a@b.example>', 'a b@c.example', 'x'.repeat(400) + '@a.example']) {
      const r = await resend.contacts.create({ email });
      expect(r.error, email).toMatchObject({ statusCode: 422 });
      expect(r.error!.message).toContain('`email`');
    }
  });
});

describe('segments and topics', () => {
  it('segments: lifecycle, membership, listing a segment; topics: lifecycle and subscriptions', async () => {
    const seg = ok(await resend.segments.create({ name: 'Customers' }));
    expect(ok(await resend.segments.get(seg.id))).toMatchObject({ object: 'segment', name: 'Customers' });
    const topicIn = ok(await resend.topics.create({ name: 'Product news', defaultSubscription: 'opt_in' }));
    const topicOut = ok(await resend.topics.create({ name: 'Offers', defaultSubscription: 'opt_out', description: 'Deals' }));
    expect(ok(await resend.topics.get(topicOut.id))).toMatchObject({ name: 'Offers', default_subscription: 'opt_out', description: 'Deals' });
    ok(await resend.topics.update({ id: topicOut.id, name: 'Special offers' }));
    expect(ok(await resend.topics.list()).data.map((t) => t.name).sort()).toEqual(['Product news', 'Special offers']);

    const c = ok(await resend.contacts.create({ email: 'seg@example.org', segments: [{ id: seg.id }], topics: [{ id: topicOut.id, subscription: 'opt_in' }] }));
    const d = ok(await resend.contacts.create({ email: 'seg2@example.org' }));
    ok(await resend.contacts.segments.add({ contactId: d.id, segmentId: seg.id }));
    const members = ok(await resend.contacts.list({ segmentId: seg.id }));
    expect(members.data.map((m) => m.email).sort()).toEqual(['seg2@example.org', 'seg@example.org']);
    expect(ok(await resend.contacts.segments.list({ email: 'seg@example.org' })).data.map((s) => s.id)).toEqual([seg.id]);
    ok(await resend.contacts.segments.remove({ email: 'seg2@example.org', segmentId: seg.id }));
    expect(ok(await resend.contacts.list({ segmentId: seg.id })).data).toHaveLength(1);

    const subs = ok(await resend.contacts.topics.list({ id: c.id }));
    expect(Object.fromEntries(subs.data.map((t) => [t.id, t.subscription]))).toEqual({ [topicIn.id]: 'opt_in', [topicOut.id]: 'opt_in' });
    ok(await resend.contacts.topics.update({ email: 'seg@example.org', topics: [{ id: topicIn.id, subscription: 'opt_out' }] }));
    const subs2 = ok(await resend.contacts.topics.list({ email: 'seg@example.org' }));
    expect(subs2.data.find((t) => t.id === topicIn.id)!.subscription).toBe('opt_out');
    const badTopic = await resend.contacts.topics.update({ id: c.id, topics: [{ id: topicIn.id, subscription: 'maybe' as any }] });
    expect(badTopic.error?.statusCode).toBe(422);

    ok(await resend.topics.remove(topicIn.id));
    ok(await resend.segments.remove(seg.id));
    expect((await resend.segments.get(seg.id)).error?.statusCode).toBe(404);
    expect(ok(await resend.contacts.get(c.id)).email).toBe('seg@example.org');
  });
});

describe('tenant walls', () => {
  it('a second workspace can neither see nor change the first one’s contacts, segments or topics', async () => {
    const c = ok(await resend.contacts.create({ email: 'private@example.org' }));
    const seg = ok(await resend.segments.create({ name: 'Private' }));
    const topic = ok(await resend.topics.create({ name: 'Private', defaultSubscription: 'opt_in' }));
    ok(await resend.contacts.segments.add({ contactId: c.id, segmentId: seg.id }));

    expect((await other.contacts.get(c.id)).error?.statusCode).toBe(404);
    expect((await other.contacts.get({ email: 'private@example.org' })).error?.statusCode).toBe(404);
    expect((await other.contacts.update({ id: c.id, firstName: 'X' })).error?.statusCode).toBe(404);
    expect((await other.contacts.remove(c.id)).error?.statusCode).toBe(404);
    expect(ok(await other.contacts.list()).data).toEqual([]);
    expect((await other.segments.get(seg.id)).error?.statusCode).toBe(404);
    expect((await other.contacts.list({ segmentId: seg.id })).error?.statusCode).toBe(404);
    expect((await other.topics.get(topic.id)).error?.statusCode).toBe(404);
    expect((await other.topics.remove(topic.id)).error?.statusCode).toBe(404);
    expect((await other.segments.remove(seg.id)).error?.statusCode).toBe(404);
    // B's own contact cannot be put into A's segment or topic.
    const mine = ok(await other.contacts.create({ email: 'private@example.org' }));
    expect((await other.contacts.segments.add({ contactId: mine.id, segmentId: seg.id })).error?.statusCode).toBe(404);
    expect((await other.contacts.topics.update({ id: mine.id, topics: [{ id: topic.id, subscription: 'opt_out' }] })).error?.statusCode).toBe(404);
    expect((await other.contacts.create({ email: 'x@example.org', segments: [{ id: seg.id }] })).error?.statusCode).toBe(404);
    // The same address is a separate contact in each workspace.
    expect(mine.id).not.toBe(c.id);
    expect(ok(await resend.contacts.get(c.id)).first_name).toBeNull();
  });
});
