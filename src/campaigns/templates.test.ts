// Templates through the SDK: versions and publishing, and emails.send({ template }) rendering the
// published version with values escaped, a missing variable named, and the walls between workspaces.
import PostalMime from 'postal-mime';
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SendingWorld, startSendingWorld } from '../testkit/sending.ts';

let world: SendingWorld;
let resend: Resend;
let other: Resend;

beforeAll(async () => {
  world = await startSendingWorld();
  resend = world.resend;
  other = world.server.resend((await world.server.setup('owner@other.test', 'Other')).apiKey);
  await world.verifyDomain('tpl.test');
});
afterAll(async () => {
  await world?.stop();
});

const ok = <T>(r: { data: T | null; error: any }): T => {
  expect(r.error).toBeNull();
  return r.data!;
};

describe('templates', () => {
  it('create, get, list, update (versions), publish, duplicate, remove', async () => {
    const created = ok(await resend.templates.create({ name: 'Welcome', alias: 'welcome', subject: 'Hi {{{NAME}}}', html: '<p>Hello {{{NAME|friend}}}</p>', variables: [{ key: 'NAME', type: 'string', fallbackValue: 'you' }] }));
    let t = ok(await resend.templates.get(created.id));
    expect(t).toMatchObject({ object: 'template', name: 'Welcome', alias: 'welcome', status: 'draft', has_unpublished_versions: true, published_at: null });
    expect(t.variables![0]).toMatchObject({ key: 'NAME', type: 'string', fallback_value: 'you' });
    ok(await resend.templates.publish('welcome'));
    t = ok(await resend.templates.get('welcome'));
    expect(t).toMatchObject({ status: 'published', has_unpublished_versions: false });
    const publishedVersion = t.current_version_id;

    ok(await resend.templates.update(created.id, { html: '<p>Changed {{{NAME}}}</p>' }));
    t = ok(await resend.templates.get(created.id));
    expect(t.html).toBe('<p>Changed {{{NAME}}}</p>');
    expect(t.has_unpublished_versions).toBe(true);
    expect(t.current_version_id).not.toBe(publishedVersion);
    // Sends still use the published version until the edit is published.
    const sent = ok(await resend.emails.send({ to: 'a@dest.example', from: 'News <news@tpl.test>', template: { id: created.id, variables: { NAME: 'Ada' } } } as any));
    const parsed = await PostalMime.parse(await world.rawOf(sent.id));
    expect(parsed.subject).toBe('Hi Ada');
    expect(parsed.html).toContain('<p>Hello Ada</p>');
    ok(await resend.templates.publish(created.id));
    const sent2 = ok(await resend.emails.send({ to: 'a@dest.example', from: 'news@tpl.test', template: { id: 'welcome', variables: { NAME: 'Bo' } } } as any));
    expect((await PostalMime.parse(await world.rawOf(sent2.id))).html).toContain('<p>Changed Bo</p>');

    const copy = ok(await resend.templates.duplicate(created.id));
    expect(ok(await resend.templates.get(copy.id))).toMatchObject({ name: 'Welcome (copy)', status: 'draft', alias: null });
    expect(ok(await resend.templates.list()).data.map((x) => x.id)).toEqual([copy.id, created.id]);
    expect(ok(await resend.templates.remove(copy.id))).toMatchObject({ deleted: true });
    expect((await resend.templates.get(copy.id)).error?.statusCode).toBe(404);
    // create(...).publish() chains
    const chained = ok(await resend.templates.create({ name: 'Chained', html: '<b>x</b>' }).publish());
    expect(ok(await resend.templates.get(chained.id)).status).toBe('published');
  });

  it('escapes values in HTML, refuses header injection and names a missing variable', async () => {
    const { id } = ok(await resend.templates.create({ name: 'Hostile', subject: 'About {{{TOPIC}}}', html: '<a href="{{{URL}}}">{{{TOPIC}}}</a>', text: 'Topic: {{{TOPIC}}}' }).publish());
    const sent = ok(await resend.emails.send({ to: 'b@dest.example', from: 'news@tpl.test', template: { id, variables: { TOPIC: '<script>x</script>', URL: '"><img src=x onerror=alert(1)>' } } } as any));
    const parsed = await PostalMime.parse(await world.rawOf(sent.id));
    expect(parsed.html?.trim()).toBe('<a href="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">&lt;script&gt;x&lt;/script&gt;</a>');
    expect(parsed.text?.trim()).toBe('Topic: <script>x</script>');

    const inject = await resend.emails.send({ to: 'b@dest.example', from: 'news@tpl.test', template: { id, variables: { TOPIC: 'x\r\nBcc: victim@else.example', URL: 'u' } } } as any);
    expect(inject.error).toMatchObject({ statusCode: 422 });
    expect(inject.error!.message).toMatch(/line breaks/);

    const missing = await resend.emails.send({ to: 'b@dest.example', from: 'news@tpl.test', template: { id, variables: { TOPIC: 't' } } } as any);
    expect(missing.error).toMatchObject({ statusCode: 422 });
    expect(missing.error!.message).toContain('`URL`');

    const draft = ok(await resend.templates.create({ name: 'Draft', html: 'x' }));
    const unpublished = await resend.emails.send({ to: 'b@dest.example', from: 'news@tpl.test', subject: 's', template: { id: draft.id } } as any);
    expect(unpublished.error?.message).toMatch(/not published/);
  });

  it('another workspace cannot read, edit, publish or send with a template', async () => {
    const { id } = ok(await resend.templates.create({ name: 'Mine', alias: 'mine', html: 'secret', subject: 's' }).publish());
    expect((await other.templates.get(id)).error?.statusCode).toBe(404);
    expect((await other.templates.get('mine')).error?.statusCode).toBe(404);
    expect((await other.templates.update(id, { html: 'x' })).error?.statusCode).toBe(404);
    expect((await other.templates.publish(id)).error?.statusCode).toBe(404);
    expect((await other.templates.duplicate(id)).error?.statusCode).toBe(404);
    expect((await other.templates.remove(id)).error?.statusCode).toBe(404);
    expect(ok(await other.templates.list()).data).toEqual([]);
    const send = await other.emails.send({ to: 'b@dest.example', from: 'x@other.test', template: { id } } as any);
    expect(send.error?.statusCode).toBe(404);
    // The alias is per workspace.
    ok(await other.templates.create({ name: 'Theirs', alias: 'mine', html: 'x' }));
  });
});
