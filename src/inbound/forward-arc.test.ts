// ARC on forwards (RFC 8617): a message forwarded by a hosted inbox leaves with an ARC set sealed
// by the forwarding domain's DKIM key, and the loopback remote MX, checking it with mailauth
// against the test DNS, finds the chain valid (cv=none at i=1, and cv=pass at i=2 when a valid
// chain arrived); a changed message fails it, and a chain that arrived broken is not extended.
import { generateKeyPairSync } from 'node:crypto';
import { sealMessage } from 'mailauth/lib/arc/index.js';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { createTestMailbox } from '../testkit/mailbox.ts';
import { authenticateAtRemote } from '../testkit/remote-mx.ts';
import { type RemoteWorld, startRemoteWorld } from '../testkit/remote-world.ts';
import { api, freePort } from '../testkit/server.ts';
import { sendWithNodemailer } from '../testkit/smtp-senders.ts';
import { waitFor } from '../testkit/webhook-receiver.ts';

const HOSTED = 'arc-hosted.example.org';
const ORIGIN = 'origin.test';
let world: RemoteWorld;
let core: Core;
let port: number;
let selector: string;
const origin = generateKeyPairSync('rsa', { modulusLength: 2048 });
const originKey = origin.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

beforeAll(async () => {
  port = await freePort();
  world = await startRemoteWorld({ remoteIp: '127.0.0.32', env: { MAILSTACK_SMTP_PORT: String(port), MAILSTACK_RETRY_DELAYS: '200ms' } });
  core = world.server.platform.core;
  const ws = await world.server.setup('owner@arc.test', 'ARC');
  const box = await createTestMailbox(core, { workspaceId: ws.workspaceId, address: `fwd@${HOSTED}`, dns: world.dns });
  selector = (await core.db.selectFrom('domains').select('dkim_selector').where('id', '=', box.domainId).executeTakeFirstOrThrow()).dkim_selector!;
  const rule = await api(world.server.url, 'POST', `/v1/inboxes/${box.mailbox.id}/forwarding`, { key: ws.apiKey, body: { to: 'target@remote.test', keep_copy: false } });
  expect(rule.status).toBe(201);
  // The original sender: SPF for the loopback client, a DKIM key, DMARC p=reject.
  const spki = origin.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  world.dns.txt(`s1._domainkey.${ORIGIN}`, `v=DKIM1; k=rsa; p=${spki}`);
  world.dns.txt(ORIGIN, 'v=spf1 ip4:127.0.0.1 -all');
  world.dns.txt(`_dmarc.${ORIGIN}`, 'v=DMARC1; p=reject');
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

async function signed(subject: string): Promise<Buffer> {
  const raw = Buffer.from(`From: Ann <ann@${ORIGIN}>\r\nTo: fwd@${HOSTED}\r\nSubject: ${subject}\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@${ORIGIN}>\r\n\r\nHello through a forward.\r\n`);
  const key = { signingDomain: ORIGIN, selector: 's1', privateKey: originKey, algorithm: 'rsa-sha256', canonicalization: 'relaxed/relaxed' };
  const sig = await dkimSign(raw, { ...key, signatureData: [key] } as any);
  return Buffer.concat([Buffer.from(sig.signatures), raw]);
}

async function forwardOf(raw: Buffer, subject: string) {
  const sent = await sendWithNodemailer(port, { from: `ann@${ORIGIN}`, to: [`fwd@${HOSTED}`] }, raw);
  expect(sent.code, sent.response).toBe(250);
  return waitFor(`the forward of "${subject}"`, () => world.mx.messages.find((m) => m.raw.toString('latin1').includes(`Subject: ${subject}`)), 30_000);
}

const field = (raw: Buffer, name: string) => new RegExp(`^${name}:[^\\r\\n]*(?:\\r\\n[ \\t][^\\r\\n]*)*`, 'im').exec(raw.toString('latin1'))?.[0]?.replace(/\r\n[ \t]+/g, ' ') ?? '';

describe('ARC sealing of forwards (RFC 8617)', () => {
  it('seals with the forwarding domain\'s key (i=1, cv=none); the remote MX finds the chain valid and our verdicts in it', async () => {
    const fwd = await forwardOf(await signed('arc first hop'), 'arc first hop');
    const seal = field(fwd.raw, 'ARC-Seal');
    expect(seal).toMatch(/i=1;/);
    expect(seal).toMatch(/cv=none;/);
    expect(seal).toContain(`d=${HOSTED};`);
    expect(seal).toContain(`s=${selector};`);
    const aar = field(fwd.raw, 'ARC-Authentication-Results');
    expect(aar).toMatch(/^ARC-Authentication-Results: i=1; mx\.mailstack\.test;/);
    for (const v of ['spf=pass', 'dkim=pass', 'dmarc=pass']) expect(aar).toContain(v);
    expect(field(fwd.raw, 'ARC-Message-Signature')).toContain(`d=${HOSTED};`);

    const at = await authenticateAtRemote(fwd, world.dns);
    expect((at.arc as any).status.result).toBe('pass');
    expect((at.arc as any).i).toBe(1);
    expect((at.dmarc as any).status.result).toBe('pass');

    // Changed on the way (a footer added): the seal no longer holds.
    const tampered = { ...fwd, raw: Buffer.concat([fwd.raw, Buffer.from('-- \r\nfooter\r\n')]) };
    expect((((await authenticateAtRemote(tampered, world.dns)).arc) as any).status.result).toBe('fail');
  });

  it('extends a valid chain that arrived (i=2, cv=pass), and does not seal over a broken one', async () => {
    const msg = await signed('arc second hop');
    const earlier = await sealMessage(msg, { signingDomain: ORIGIN, selector: 's1', privateKey: originKey, algorithm: 'rsa-sha256', authResults: `lists.${ORIGIN}; spf=pass smtp.mailfrom=${ORIGIN}`, cv: 'none' } as any);
    const fwd = await forwardOf(Buffer.concat([earlier, msg]), 'arc second hop');
    const seals = fwd.raw.toString('latin1').match(/^ARC-Seal:/gim) ?? [];
    expect(seals).toHaveLength(2);
    const ours = field(fwd.raw, 'ARC-Seal');
    expect(ours).toMatch(/i=2;/);
    expect(ours).toMatch(/cv=pass;/);
    expect((((await authenticateAtRemote(fwd, world.dns)).arc) as any).status.result).toBe('pass');

    // An ARC set whose seal does not verify (its signature changed): we add none of our own.
    const broken = await signed('arc broken chain');
    const bad = (await sealMessage(broken, { signingDomain: ORIGIN, selector: 's1', privateKey: originKey, algorithm: 'rsa-sha256', authResults: `lists.${ORIGIN}; spf=pass`, cv: 'none' } as any))
      .toString('latin1')
      .replace(/(ARC-Seal:[^]*?b=)([A-Za-z0-9+/])/, (_m, a, c) => a + (c === 'A' ? 'B' : 'A'));
    const out = await forwardOf(Buffer.concat([Buffer.from(bad, 'latin1'), broken]), 'arc broken chain');
    expect(out.raw.toString('latin1').match(/^ARC-Seal:/gim) ?? []).toHaveLength(1);
    expect(field(out.raw, 'ARC-Seal')).toMatch(/i=1;/);
  });
});
