// Message log retention with a ManualClock: bodies and delivery detail go after the period, the
// metadata stays, shared blobs survive while referenced, a workspace's own period applies, and the
// audit log says how much was purged. Messages come in through the real SMTP relay.
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { api } from '../testkit/server.ts';
import { type RelayNode, startRelayNode } from '../testkit/submission.ts';
import { blobStore } from './accept.ts';
import { setRecipientStatus } from './recipients.ts';
import { RETENTION_JOB, runRetention } from './retention.ts';

const DAY = 86_400_000;
let node: RelayNode;
const clock = new ManualClock();

beforeAll(async () => {
  node = await startRelayNode({}, clock);
  await node.verifiedDomain('keep.example');
}, 60_000);
afterAll(async () => {
  await node?.stop();
});

const core = () => node.server.platform.core;

/** Sends through the relay; returns the email id. */
async function send(key: string, from: string, opts: { attachment?: string } = {}) {
  const t = nodemailer.createTransport({
    host: '127.0.0.1',
    port: node.submissionsPort,
    secure: true,
    auth: { user: 'resend', pass: key },
    tls: { rejectUnauthorized: false },
  });
  const info = await t.sendMail({
    from,
    to: 'someone@example.net',
    subject: 'kept subject',
    text: 'secret body text',
    html: '<p>secret body html</p>',
    attachments: opts.attachment ? [{ filename: 'shared.pdf', content: opts.attachment }] : [],
  });
  return /Queued as ([0-9a-f-]{36})/.exec(info.response)![1];
}

/** What the MTA would do: every recipient delivered, with the remote answer kept. */
async function deliverAll(emailId: string) {
  const recipients = await core().db.selectFrom('email_recipients').select('id').where('email_id', '=', emailId).execute();
  await core().store.transaction(async (tx) => {
    for (const r of recipients) await setRecipientStatus(core(), tx, r.id, 'delivered', { response: '250 2.0.0 OK queued as ABC', mxHost: 'mx.example.net' });
  });
}

const emailRow = (id: string) => core().db.selectFrom('emails').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const purgeAudits = (workspaceId: string) =>
  core().db.selectFrom('audit_log').selectAll().where('workspace_id', '=', workspaceId).where('action', '=', 'retention.purged').orderBy('id').execute();

describe('message retention', () => {
  it('purges bodies and delivery detail after 90 days, keeps metadata and shared blobs, and says so', async () => {
    const old = await send(node.apiKey, 'a@keep.example', { attachment: 'shared attachment bytes' });
    await deliverAll(old);
    const inFlight = await send(node.apiKey, 'a@keep.example');
    const before = await emailRow(old);
    const [attachment] = JSON.parse(before.attachments_json);
    const store = blobStore(core());
    expect(await store.has(before.raw_blob!)).toBe(true);
    // The API request log of that time (the SDK call is recorded).
    expect((await node.server.resend(node.apiKey).domains.list()).error).toBeNull();

    clock.advance(50 * DAY);
    // A newer message carries the same attachment: one content-addressed blob, two references.
    const newer = await send(node.apiKey, 'a@keep.example', { attachment: 'shared attachment bytes' });
    await deliverAll(newer);
    expect(JSON.parse((await emailRow(newer)).attachments_json)[0].blob_id).toBe(attachment.blob_id);

    clock.advance(39 * DAY);
    // Day 89: nothing yet.
    expect(await runRetention(core())).toMatchObject({ emails: 0, api_requests: 0 });
    expect((await emailRow(old)).body_purged_at).toBeNull();

    clock.advance(2 * DAY);
    // The schedule fires the retention job (the worker is off here, so the pass is run directly).
    expect(await node.server.platform.scheduler.tick()).toContain(RETENTION_JOB);
    expect(await core().db.selectFrom('jobs').select('id').where('kind', '=', RETENTION_JOB).where('status', '=', 'queued').executeTakeFirst()).toBeTruthy();
    const report = await runRetention(core());
    expect(report.emails).toBe(1);
    expect(report.api_requests).toBeGreaterThan(0);
    // The events of the purged period (email.sent … of the old message) are gone, newer ones kept.
    expect(report.events).toBeGreaterThan(0);
    const events = await core().db.selectFrom('event_records').select('created_at').where('workspace_id', '=', node.workspaceId).execute();
    expect(events.every((e) => e.created_at >= clock.now() - 90 * DAY)).toBe(true);

    const after = await emailRow(old);
    expect(after).toMatchObject({ html: null, text: null, raw_blob: null, subject: 'kept subject', from_address: 'a@keep.example', last_event: 'delivered' });
    expect(after.body_purged_at).toBeGreaterThan(clock.now() - DAY);
    expect(JSON.parse(after.to_json)).toEqual(['someone@example.net']);
    expect(JSON.parse(after.attachments_json)).toEqual([expect.objectContaining({ filename: 'shared.pdf', size: attachment.size })]);
    expect(JSON.parse(after.attachments_json)[0].blob_id).toBeUndefined();
    expect(await store.has(before.raw_blob!)).toBe(false);
    // Still referenced by the newer message: kept.
    expect(await store.has(attachment.blob_id)).toBe(true);
    const recipients = await core().db.selectFrom('email_recipients').selectAll().where('email_id', '=', old).execute();
    expect(recipients.map((r) => [r.address, r.status, r.last_response, r.mx_host])).toEqual([['someone@example.net', 'delivered', null, null]]);

    // A message whose recipient is still in flight keeps its body.
    expect((await emailRow(inFlight)).raw_blob).not.toBeNull();
    expect((await emailRow(inFlight)).body_purged_at).toBeNull();

    const audits = await purgeAudits(node.workspaceId);
    expect(audits).toHaveLength(1);
    expect(JSON.parse(audits[0].data!)).toMatchObject({ retention_days: 90, emails: 1, blobs_deleted: 1, api_requests: report.api_requests });
    expect(audits[0].actor_type).toBe('system');

    // The request log of that time is gone; later requests are kept.
    const logs = await core().db.selectFrom('api_requests').select('created_at').where('workspace_id', '=', node.workspaceId).execute();
    expect(logs.every((l) => l.created_at >= clock.now() - 90 * DAY)).toBe(true);

    // Once the newer message is purged too, the shared attachment goes. The in-flight one is now
    // 30 days past the period as well: a stuck recipient does not keep a body forever.
    clock.advance(50 * DAY);
    expect((await runRetention(core())).emails).toBe(2);
    expect(await store.has(attachment.blob_id)).toBe(false);
    expect((await emailRow(inFlight)).raw_blob).toBeNull();
    // Running again purges nothing and writes no audit record.
    expect(await runRetention(core())).toMatchObject({ emails: 0, blobs_deleted: 0 });
    expect(await purgeAudits(node.workspaceId)).toHaveLength(2);
  });

  it("applies a workspace's own retention period (7 days), set through PATCH /v1/workspace", async () => {
    const other = await node.server.setup('seven@example.com', 'Seven');
    await node.verifiedDomain('seven.example', other.apiKey);
    const r = await api(node.server.url, 'PATCH', '/v1/workspace', { key: other.apiKey, body: { retention_days: 7 } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: other.workspaceId, retention_days: 7 });
    expect((await api(node.server.url, 'GET', '/v1/workspace', { key: other.apiKey })).json.retention_days).toBe(7);
    expect((await api(node.server.url, 'GET', '/v1/workspace', { key: node.apiKey })).json.retention_days).toBe(90);
    for (const bad of [0, 3651, 1.5, 'seven']) {
      expect((await api(node.server.url, 'PATCH', '/v1/workspace', { key: other.apiKey, body: { retention_days: bad } })).status).toBe(422);
    }
    const setting = await core().db.selectFrom('audit_log').select('data').where('workspace_id', '=', other.workspaceId).where('action', '=', 'workspace.updated').executeTakeFirstOrThrow();
    expect(JSON.parse(setting.data!)).toEqual({ retention_days: { from: 90, to: 7 } });

    const seven = await send(other.apiKey, 'b@seven.example');
    await deliverAll(seven);
    const ninety = await send(node.apiKey, 'a@keep.example');
    await deliverAll(ninety);

    clock.advance(8 * DAY);
    await runRetention(core());
    expect(await emailRow(seven)).toMatchObject({ html: null, text: null, raw_blob: null, subject: 'kept subject' });
    expect((await emailRow(ninety)).body_purged_at).toBeNull();
    expect((await emailRow(ninety)).html).toContain('secret body html');
    const audits = await purgeAudits(other.workspaceId);
    expect(audits).toHaveLength(1);
    expect(JSON.parse(audits[0].data!)).toMatchObject({ retention_days: 7, emails: 1 });

    // null goes back to the node's default.
    const reset = await api(node.server.url, 'PATCH', '/v1/workspace', { key: other.apiKey, body: { retention_days: null } });
    expect(reset.json.retention_days).toBe(90);
  });
});
