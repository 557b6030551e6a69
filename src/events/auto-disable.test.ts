// Auto-disable of an endpoint whose every attempt has failed for 5 days (delivery.ts), with a
// ManualClock so days pass at once. (The clock also dates signatures, so this file does not verify
// them: webhooks.test.ts does.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resend } from 'resend';
import { ManualClock } from '../core/clock.ts';
import { type TestServer, startTestServer } from '../testkit/server.ts';
import { DISABLE_AFTER_MS } from './delivery.ts';
import { type Receiver, startReceiver, waitFor } from '../testkit/webhook-receiver.ts';
import { emitEvent } from './webhooks.ts';

const clock = new ManualClock();
let server: TestServer;
let receiver: Receiver;
let resend: Resend;
let workspaceId: string;

beforeAll(async () => {
  receiver = await startReceiver();
  server = await startTestServer({ clock, env: { MAILSTACK_WEBHOOK_ALLOW_PRIVATE: 'true', MAILSTACK_WEBHOOK_RETRY_DELAYS: '50ms' } });
  const s = await server.setup('owner@example.com', 'Acme');
  workspaceId = s.workspaceId;
  resend = server.resend(s.apiKey);
});
afterAll(async () => {
  await server?.stop();
  await receiver?.close();
});

const DAY = 24 * 3_600_000;
const core = () => server.platform.core;
const statusOf = async (webhookId: string, eventId: string) => (await resend.webhooks.events.get({ webhookId, eventId })).data?.status;
const emit = () => emitEvent(core(), workspaceId, 'email.sent', { email_id: 'e' });
const failingSince = async (id: string) =>
  (await core().db.selectFrom('webhooks').select('failing_since').where('id', '=', id).executeTakeFirstOrThrow()).failing_since;

describe('auto-disable', () => {
  it('is set to five days', () => {
    expect(DISABLE_AFTER_MS).toBe(5 * DAY);
  });

  it('keeps an endpoint whose failures are broken by a success', async () => {
    const hook = (await resend.webhooks.create({ endpoint: `${receiver.url}/recovers`, events: ['email.sent'] })).data!;
    receiver.answers.push(500);
    const first = await emit();
    await waitFor('success after one failure', async () => (await statusOf(hook.id, first)) === 'success');
    expect(await failingSince(hook.id)).toBeNull();

    clock.advance(6 * DAY);
    receiver.answers.push(500, 500);
    const second = await emit();
    await waitFor('the event given up', async () => (await statusOf(hook.id, second)) === 'failed');
    // Failing for minutes, not days: still enabled.
    expect((await resend.webhooks.get(hook.id)).data!.status).toBe('enabled');
    expect(await failingSince(hook.id)).not.toBeNull();
    await resend.webhooks.remove(hook.id);
  });

  it('disables an endpoint after five days of nothing but failures, with an audit record, and re-enables by update', async () => {
    const hook = (await resend.webhooks.create({ endpoint: `${receiver.url}/dead`, events: ['email.sent'] })).data!;
    receiver.answers.push(500, 500);
    const first = await emit();
    await waitFor('the first event given up', async () => (await statusOf(hook.id, first)) === 'failed');
    expect((await resend.webhooks.get(hook.id)).data!.status).toBe('enabled');

    clock.advance(DISABLE_AFTER_MS + 3_600_000);
    receiver.answers.push(500, 500);
    const second = await emit();
    await waitFor('the endpoint disabled', async () => (await resend.webhooks.get(hook.id)).data!.status === 'disabled');
    expect(await statusOf(hook.id, second)).toBe('failed');
    const audit = await core().db.selectFrom('audit_log').selectAll().where('target_id', '=', hook.id).where('action', '=', 'webhook.disabled').execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor_type: 'system', workspace_id: workspaceId });
    expect(JSON.parse(audit[0].data!).reason).toMatch(/every delivery attempt failed since/);

    // A disabled endpoint gets no new deliveries, and cannot be replayed to.
    const third = await emit();
    expect(await core().db.selectFrom('webhook_deliveries').select('event_id').where('event_id', '=', third).execute()).toEqual([]);
    expect((await resend.webhooks.events.replay({ webhookId: hook.id, eventId: second })).error).toMatchObject({ statusCode: 422 });

    // Enabled again by its owner, it starts afresh and delivers.
    receiver.answers.length = 0;
    await resend.webhooks.update(hook.id, { status: 'enabled' });
    expect(await failingSince(hook.id)).toBeNull();
    const fourth = await emit();
    await waitFor('delivery after re-enabling', async () => (await statusOf(hook.id, fourth)) === 'success');
    await resend.webhooks.events.replay({ webhookId: hook.id, eventId: second });
    await waitFor('the replayed event delivered', async () => (await statusOf(hook.id, second)) === 'success');
  });
});
