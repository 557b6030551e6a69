// Who may send from where, and who may see what: unverified and foreign domains (403), a
// sending_access key held to one domain, and the wall between workspaces on every email
// endpoint (get, list, update, cancel, attachments list/get): another workspace's ids are 404.
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SendingWorld, startSendingWorld } from '../testkit/sending.ts';

let w: SendingWorld;
let a: Resend;
let b: Resend;
let xId: string;

beforeAll(async () => {
  w = await startSendingWorld();
  a = w.resend;
  xId = await w.verifyDomain('x.test');
  await w.verifyDomain('y.test');
  const ws = await w.server.setup('b@walls.test', 'Workspace B');
  b = w.server.resend(ws.apiKey);
  await w.verifyDomain('b-only.test', b);
});
afterAll(async () => {
  await w?.stop();
});

const msg = (from: string, extra: Record<string, unknown> = {}) => ({ from, to: 'r@example.net', subject: 's', text: 't', ...extra });

describe('sending domains', () => {
  it('refuses a domain that is added but not verified with a 403', async () => {
    await a.domains.create({ name: 'pending.test' });
    const { error } = await a.emails.send(msg('hello@pending.test'));
    expect(error).toMatchObject({ statusCode: 403, name: 'validation_error' });
    expect(error!.message).toContain('The domain pending.test is not verified');
  });

  it('refuses a domain the workspace never added, and one verified by another workspace', async () => {
    expect((await a.emails.send(msg('hello@nowhere.test'))).error).toMatchObject({ statusCode: 403 });
    expect((await a.emails.send(msg('hello@b-only.test'))).error).toMatchObject({ statusCode: 403 });
    expect((await b.emails.send(msg('hello@x.test'))).error).toMatchObject({ statusCode: 403 });
    expect((await b.emails.send(msg('hello@b-only.test'))).error).toBeNull();
  });

  it('holds a sending_access key restricted to domain X to X', async () => {
    const key = await a.apiKeys.create({ name: 'x only', permission: 'sending_access', domain_id: xId });
    expect(key.error).toBeNull();
    const restricted = w.server.resend(key.data!.token);
    const ok = await restricted.emails.send(msg('App <app@x.test>'));
    expect(ok.error).toBeNull();
    const other = await restricted.emails.send(msg('app@y.test'));
    expect(other.error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
    const batch = await restricted.batch.send([msg('app@x.test'), msg('app@y.test')]);
    expect(batch.error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
    // A sending key cannot read emails back.
    expect((await restricted.emails.get(ok.data!.id)).error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
    expect((await restricted.emails.list()).error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });

    // A sending key only sends (Resend's sending access, issue 9): it cancels nothing, not even its own.
    const fromY = await a.emails.send(msg('app@y.test', { scheduledAt: 'in 1 hour' }));
    expect((await restricted.emails.cancel(fromY.data!.id)).error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
    const fromX = await restricted.emails.send(msg('app@x.test', { scheduledAt: 'in 1 hour' }));
    expect(fromX.error).toBeNull();
    expect((await restricted.emails.cancel(fromX.data!.id)).error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
    expect((await a.emails.cancel(fromX.data!.id)).error).toBeNull();

    // An unrestricted sending key may use any verified domain of its workspace.
    const any = await a.apiKeys.create({ name: 'any', permission: 'sending_access' });
    expect((await w.server.resend(any.data!.token).emails.send(msg('app@y.test'))).error).toBeNull();
  });
});

describe('tenant walls', () => {
  it('B cannot get, list, update, cancel or read attachments of A\'s emails: 404', async () => {
    const sent = await a.emails.send(msg('secret@x.test', { subject: 'A secret', scheduledAt: 'in 2 hours', attachments: [{ filename: 'a.txt', content: Buffer.from('secret').toString('base64') }] }));
    expect(sent.error).toBeNull();
    const id = sent.data!.id;
    const att = (await a.emails.attachments.list({ emailId: id })).data!.data[0];

    expect((await b.emails.get(id)).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    expect((await b.emails.update({ id, scheduledAt: 'in 3 hours' })).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    expect((await b.emails.cancel(id)).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    expect((await b.emails.attachments.list({ emailId: id })).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    expect((await b.emails.attachments.get({ emailId: id, id: att.id })).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    const listed = await b.emails.list({ limit: 100 });
    expect(listed.data!.data.some((e) => e.id === id || e.subject === 'A secret')).toBe(false);
    const filtered = await b.get<any>(`/emails?recipient=r%40example.net&limit=100`);
    expect(filtered.data.data.some((e: any) => e.id === id)).toBe(false);
    // A unknown id answers exactly like another workspace's: nothing to infer.
    const unknown = await b.emails.get('0190f0f0-0000-7000-8000-000000000000');
    expect(unknown.error).toEqual((await b.emails.get(id)).error);

    // A's email is untouched and still scheduled.
    expect((await a.emails.get(id)).data).toMatchObject({ last_event: 'scheduled', subject: 'A secret' });
    // B's own attachment link cannot be bent to A's email.
    const bSent = await b.emails.send(msg('b@b-only.test', { attachments: [{ filename: 'b.txt', content: 'Yg==' }] }));
    const bAtt = (await b.emails.attachments.list({ emailId: bSent.data!.id })).data!.data[0];
    const bent = bAtt.download_url.replace(`/emails/${bSent.data!.id}/attachments/${bAtt.id}/`, `/emails/${id}/attachments/${att.id}/`);
    expect((await fetch(bent)).status).toBe(403);
  });
});
