// The relay's AUTH throttle (shared with every other sign-in door) and its graceful stop, each on
// a node of its own: both change the node for everyone else.
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { type RelayNode, rawSmtp, startRelayNode } from '../testkit/submission.ts';

const nodes: RelayNode[] = [];
afterAll(async () => {
  for (const n of nodes) await n.stop();
});

describe('AUTH failures', () => {
  it('locks the client address out with 454 4.7.0 after repeated failures, until the lockout ends', async () => {
    const clock = new ManualClock();
    const node = await startRelayNode({ MAILSTACK_LOGIN_IP_MAX_FAILURES: '3', MAILSTACK_LOGIN_LOCKOUT: '15m' }, clock);
    nodes.push(node);
    const s = await rawSmtp(node.submissionsPort, 'implicit');
    await s.cmd('EHLO client.test');
    for (let i = 0; i < 3; i++) expect((await s.auth(`ms_wrong${i}`, `user${i}`)).text).toMatch(/^535 5\.7\.8 /);
    s.close();

    // Locked: even the right key is not checked, from a fresh connection.
    const t = await rawSmtp(node.submissionsPort, 'implicit');
    await t.cmd('EHLO client.test');
    const locked = await t.auth(node.apiKey);
    expect(locked.text).toMatch(/^454 4\.7\.0 Too many failed sign-in attempts from your address; try again in 15 minutes/);
    // AUTH LOGIN is held to the same lock.
    expect((await t.cmd('AUTH LOGIN')).code).toBe(334);
    expect((await t.cmd(Buffer.from('resend').toString('base64'))).code).toBe(334);
    expect((await t.cmd(Buffer.from(node.apiKey).toString('base64'))).code).toBe(454);
    t.close();
    const row = await node.server.platform.core.db.selectFrom('login_throttle').selectAll().where('key', '=', 'ip:127.0.0.1').executeTakeFirstOrThrow();
    expect(row.locked_until).toBeGreaterThan(clock.now());

    clock.advance(16 * 60_000);
    const u = await rawSmtp(node.submissionsPort, 'implicit');
    await u.cmd('EHLO client.test');
    expect((await u.auth(node.apiKey)).code).toBe(235);
    expect((await u.cmd('MAIL FROM:<a@nowhere.example>')).text).toMatch(/^550 5\.7\.1 /);
    u.close();
  });
});

describe('stopping', () => {
  it('tells open sessions 421 and closes both doors', async () => {
    const node = await startRelayNode();
    nodes.push(node);
    await node.verifiedDomain('stop.example');
    const plain = await rawSmtp(node.submissionPort, 'plain');
    expect((await plain.cmd('EHLO client.test')).code).toBe(250);
    const secure = await rawSmtp(node.submissionsPort, 'implicit');
    await secure.cmd('EHLO client.test');
    expect((await secure.auth(node.apiKey)).code).toBe(235);
    expect((await secure.cmd('MAIL FROM:<a@stop.example>')).code).toBe(250);

    const stopping = node.server.stop();
    // The session in the middle of a transaction is told, not dropped silently.
    const next = await secure.cmd('RCPT TO:<x@example.net>');
    expect(next.code).toBe(421);
    await stopping;
    plain.close();
    secure.close();
    // Nothing listens any more: the connection is refused before any greeting.
    expect((await rawSmtp(node.submissionPort, 'plain')).greeting.code).toBe(0);
    expect((await rawSmtp(node.submissionsPort, 'implicit')).greeting.code).toBe(0);
  });
});
