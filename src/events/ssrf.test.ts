// The SSRF guard end to end, on a node started WITHOUT MAILSTACK_WEBHOOK_ALLOW_PRIVATE: endpoints in
// non-public address space are refused when set (422), and again at delivery time, before any
// connection is made.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../core/ids.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { newSigningSecret } from './signature.ts';
import { type Receiver, startReceiver, waitFor } from '../testkit/webhook-receiver.ts';
import { emitEvent } from './webhooks.ts';

let server: TestServer;
let receiver: Receiver;
let key: string;
let workspaceId: string;

beforeAll(async () => {
  receiver = await startReceiver();
  server = await startTestServer();
  ({ apiKey: key, workspaceId } = await server.setup('owner@example.com', 'Acme'));
});
afterAll(async () => {
  await server?.stop();
  await receiver?.close();
});

describe('webhook targets in non-public address space', () => {
  it('is off by default', () => {
    expect(server.platform.core.settings.webhookAllowPrivate).toBe(false);
  });

  const refused = [
    'http://127.0.0.1/hook',
    'http://127.0.0.1:8080/hook',
    'http://10.0.0.1/',
    'http://[::1]/',
    'http://169.254.169.254/latest/meta-data/',
    'http://localhost/',
    'https://[::ffff:127.0.0.1]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://100.64.0.1/',
    'http://192.168.0.1/',
    'http://0.0.0.0/',
    'http://[fe80::1]/',
    'http://[fd00::1]/',
    'http://224.0.0.1/',
    // Other spellings of 127.0.0.1 that URL parsers accept.
    'http://2130706433/',
    'http://0x7f.1/',
  ];
  for (const endpoint of refused) {
    it(`refuses ${endpoint} with 422 validation_error`, async () => {
      const { error } = await server.resend(key).webhooks.create({ endpoint, events: ['email.sent'] });
      expect(error).toMatchObject({ statusCode: 422, name: 'validation_error', message: expect.stringMatching(/public addresses/) });
    });
  }

  it('accepts a public address, and refuses an update that points it at a private one', async () => {
    const resend = server.resend(key);
    const { data, error } = await resend.webhooks.create({ endpoint: 'https://1.1.1.1/hook', events: ['email.sent'] });
    expect(error).toBeNull();
    for (const endpoint of ['http://10.1.2.3/x', 'http://[::1]:8080/', 'http://169.254.169.254/']) {
      const r = await resend.webhooks.update(data!.id, { endpoint });
      expect(r.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    }
    expect((await resend.webhooks.get(data!.id)).data!.endpoint).toBe('https://1.1.1.1/hook');
    await resend.webhooks.remove(data!.id);
    const none = await api(server.url, 'GET', '/v1/webhooks', { key });
    expect(none.json.data).toEqual([]);
  });

  it('checks again at delivery time: an endpoint that now resolves to loopback is never contacted', async () => {
    // As if the host resolved to a public address when the endpoint was saved and to loopback now
    // (DNS rebinding): write the row directly, since the API would refuse it.
    const core = server.platform.core;
    const id = newId();
    const now = core.clock.now();
    await core.db
      .insertInto('webhooks')
      .values({
        id,
        workspace_id: workspaceId,
        endpoint: `${receiver.url}/rebound`,
        events: JSON.stringify(['email.sent']),
        status: 'enabled',
        secret_enc: core.vault.encrypt(newSigningSecret(), `webhook:${id}`),
        failing_since: null,
        disabled_reason: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    const eventId = await emitEvent(core, workspaceId, 'email.sent', { email_id: 'x' });
    const resend = server.resend(key);
    const attempts = await waitFor('the refused attempt', async () => {
      const a = (await resend.webhooks.events.attempts.list({ webhookId: id, eventId })).data?.data;
      return a && a.length > 0 ? a : null;
    });
    expect(attempts[0]).toMatchObject({ http_status_code: 0, error: expect.stringMatching(/^refused: .*loopback/) });
    expect((await resend.webhooks.events.get({ webhookId: id, eventId })).data!.status).toBe('attempting');
    expect(receiver.received).toEqual([]);
  });
});
