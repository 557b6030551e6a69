// The web app in a real Chromium (playwright-core, /usr/bin/chromium) against a real node: sign-in
// by password and by magic link (read from the loopback MX), mail delivered over SMTP appearing
// live, reading, replying (seen at the remote MX and in Sent), a draft visible over IMAP, move to
// Trash and undo, remote images blocked until asked, an XSS corpus delivered over SMTP that runs
// and loads nothing, a viewer's restrictions, CSRF refused, and the dashboard's domain and API-key
// flows. One node, one browser, shared by every test of the file (CI time).
// SCREENSHOTS=1 also saves the main screens to docs/screenshots/.
import { mkdirSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import PostalMime from 'postal-mime';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../accounts/app-passwords.ts';
import { ensureUser, setPassword } from '../accounts/users.ts';
import type { Core } from '../core/core.ts';
import { systemActor } from '../core/core.ts';
import { type ImapDoor, startImap } from '../imap/server.ts';
import { loadTlsMaterial } from '../tls/certificate.ts';
import { acceptAs } from '../testkit/invitations.ts';
import { ensureWebBuilt, launchChromium } from '../testkit/browser.ts';
import { createTestMailbox } from '../testkit/mailbox.ts';
import { freePort, until } from '../testkit/remote-mx.ts';
import { type RemoteWorld, startRemoteWorld } from '../testkit/remote-world.ts';
import { ROOT, api, startTestServer } from '../testkit/server.ts';
import { xssCorpus, xssMessage } from '../testkit/xss-mail.ts';
import { CSP } from './web-app.ts';

const PASSWORD = 'correct horse battery staple';
const OWNER = 'alice@remote.test';
const INBOX = 'alice@acme.test';
const shots = process.env.SCREENSHOTS === '1' ? path.join(ROOT, 'docs/screenshots') : null;

let world: RemoteWorld;
let core: Core;
let url: string;
let smtpPort: number;
let imap: ImapDoor;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let apiKey: string;
let workspaceId: string;
let mailboxId: string;
let imapPassword: string;
let beacon: Server;
let beaconUrl: string;
const beaconHits: string[] = [];

async function deliver(opts: { subject: string; text?: string; html?: string; from?: string; attachments?: { filename: string; content: Buffer }[]; raw?: Buffer }) {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true, name: 'client.remote.test' });
  await t.sendMail(opts.raw ? { envelope: { from: 'bob@remote.test', to: [INBOX] }, raw: opts.raw } : { from: opts.from ?? 'Bob <bob@remote.test>', to: INBOX, ...opts });
  t.close();
}

async function shot(name: string, p: Page = page) {
  if (shots) await p.screenshot({ path: path.join(shots, `${name}.png`) });
}

async function signIn(p: Page, email: string, password: string) {
  await p.goto(url + '/');
  await p.fill('input[name=email]', email);
  await p.fill('input[name=password]', password);
  await p.click('form.signin button[type=submit]');
}

const item = (p: Page, subject: string) => p.locator('li.item', { hasText: subject });

beforeAll(async () => {
  await ensureWebBuilt();
  beacon = createServer((req, res) => {
    beaconHits.push(req.url ?? '');
    res.end();
  });
  await new Promise<void>((r) => beacon.listen(0, '127.0.0.1', r));
  beaconUrl = `http://127.0.0.1:${(beacon.address() as { port: number }).port}`;
  smtpPort = await freePort();
  world = await startRemoteWorld({ remoteIp: '127.0.0.9', env: { MAILSTACK_SMTP_PORT: String(smtpPort), MAILSTACK_ALLOW_PLAINTEXT_AUTH: 'true' } });
  core = world.server.platform.core;
  url = world.server.url;
  const s = await world.server.setup(OWNER, 'Acme', PASSWORD);
  apiKey = s.apiKey;
  workspaceId = s.workspaceId;
  const box = await createTestMailbox(core, { workspaceId, address: INBOX, ownerUserId: s.userId, dns: world.dns });
  mailboxId = box.mailbox.id;
  imapPassword = (await createAppPassword(core, systemActor, workspaceId, mailboxId, { name: 'browser test' })).password;
  imap = await startImap(core, { host: '127.0.0.1', port: 0, tls: loadTlsMaterial(core.settings), implicitTls: false, authFailureDelayMs: 10 });
  browser = await launchChromium();
  ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  page = await ctx.newPage();
  if (shots) mkdirSync(shots, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await imap?.close();
  await world?.stop();
  await new Promise((r) => beacon?.close(r));
});

describe('serving', () => {
  it('serves index.html with a strict CSP for app routes, hashed assets with a long cache, and API 404s in Resend shape', async () => {
    const index = await fetch(`${url}/mail/some/route`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    const csp = index.headers.get('content-security-policy')!;
    expect(csp).toBe(CSP);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-eval/);
    expect(csp.split(';').find((d) => d.trim().startsWith('script-src'))).not.toMatch(/unsafe-inline/);
    const html = await index.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    const js = /src="(\/assets\/main-[A-Z0-9]+\.js)"/.exec(html)![1];
    const asset = await fetch(url + js);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const missing = await api(url, 'GET', '/v1/no-such-thing');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ statusCode: 404, name: 'not_found' });
  });
});

describe('sign-in', () => {
  it('says what went wrong on a wrong password, then signs in and shows the owned inbox', async () => {
    await signIn(page, OWNER, 'wrong password');
    await expect.poll(() => page.locator('.signin [role=alert]').textContent()).toMatch(/password|incorrect|invalid/i);
    await shot('sign-in');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('a.folder[data-folder=inbox]');
    expect(await page.locator('select.mailbox-switcher').inputValue()).toBe(mailboxId);
  });

  it('signs in by a magic link mailed to the loopback MX, and signs out', async () => {
    const p = await (await browser.newContext()).newPage();
    await p.goto(url + '/');
    await p.fill('input[name=email]', OWNER);
    await p.click('text=Email me a sign-in link');
    await p.waitForSelector('.signin [role=status]');
    const mail = await until('the magic-link mail at the remote MX', () => world.mx.messages.find((m) => m.to.includes(OWNER) && /sign-in link/i.test(m.raw.toString())));
    const parsed = await PostalMime.parse(mail.raw);
    const link = /(http:\/\/\S+\/login\/magic\?token=\S+)/.exec(parsed.text ?? '')![1];
    await p.goto(link);
    await p.waitForSelector('a.folder[data-folder=inbox]');
    await p.click('text=Sign out');
    await p.waitForSelector('form.signin');
    await p.reload();
    await p.waitForSelector('form.signin');
    await p.context().close();
  });
});

describe('webmail', () => {
  it('shows mail delivered over SMTP in the open folder without a reload, and reads it', async () => {
    await page.evaluate(() => ((globalThis as any).__noReload = true));
    await deliver({ subject: 'Live hello', text: 'First line.\nSee https://example.org/page for more.', attachments: [{ filename: 'notes.txt', content: Buffer.from('attached words') }] });
    await item(page, 'Live hello').waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => (globalThis as any).__noReload)).toBe(true);
    await expect.poll(() => page.locator('a.folder[data-folder=inbox] .count').textContent()).toBe('1');
    await shot('inbox');
    await item(page, 'Live hello').click();
    await page.waitForSelector('h2.msg-subject:has-text("Live hello")');
    const linkEl = page.locator('.body-text a');
    expect(await linkEl.getAttribute('href')).toBe('https://example.org/page');
    expect(await linkEl.getAttribute('rel')).toBe('noopener noreferrer');
    // Reading marks it read.
    await expect.poll(() => page.locator('a.folder[data-folder=inbox] .count').count()).toBe(0);
    // The attachment downloads with its content.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('.attachments a:has-text("notes.txt")')]);
    expect(download.suggestedFilename()).toBe('notes.txt');
    const body = await new Promise<string>((resolve, reject) => {
      download.createReadStream().then((s) => {
        let t = '';
        s.on('data', (d) => (t += d));
        s.on('end', () => resolve(t));
      }, reject);
    });
    expect(body).toBe('attached words');
    await shot('message');
  });

  it('replies: the reply reaches the remote MX with threading headers and is in Sent', async () => {
    await page.click('#act-reply');
    await page.waitForSelector('form.compose');
    expect(await page.inputValue('form.compose input[name=to]')).toContain('bob@remote.test');
    await page.locator('form.compose textarea[name=body]').press('Home');
    await page.locator('form.compose textarea[name=body]').evaluate((t: any) => t.setSelectionRange(0, 0));
    await page.keyboard.type('Thanks Bob, replying from the browser.');
    await shot('compose');
    await page.click('form.compose button[type=submit]');
    await page.waitForSelector('.toast:has-text("Sent")');
    const out = await until('the reply at the remote MX', () => world.mx.messages.find((m) => m.to.includes('bob@remote.test') && /replying from the browser/.test(m.raw.toString())));
    const parsed = await PostalMime.parse(out.raw);
    expect(parsed.subject).toBe('Re: Live hello');
    expect(parsed.inReplyTo).toBeTruthy();
    expect(parsed.headers.some((h) => h.key === 'dkim-signature')).toBe(true);
    await page.click('a.folder[data-folder=sent]');
    await item(page, 'Re: Live hello').waitFor();
  });

  it('saves a draft typed in the browser to Drafts, where IMAP sees it', async () => {
    await page.keyboard.press('c');
    await page.waitForSelector('form.compose');
    await page.fill('form.compose input[name=to]', 'carol@remote.test');
    await page.fill('form.compose input[name=subject]', 'Draft from the browser');
    await page.fill('form.compose textarea[name=body]', 'Half-written thoughts.');
    await page.waitForSelector('form.compose .status:has-text("Draft saved")', { timeout: 10_000 });
    const client = new ImapFlow({ host: '127.0.0.1', port: imap.port, secure: false, doSTARTTLS: false, auth: { user: INBOX, pass: imapPassword }, logger: false });
    await client.connect();
    try {
      const lock = await client.getMailboxLock('Drafts');
      try {
        const found = [];
        for await (const m of client.fetch('1:*', { envelope: true, flags: true, source: true })) found.push(m);
        const draft = found.find((m) => m.envelope?.subject === 'Draft from the browser');
        expect(draft).toBeTruthy();
        expect(draft!.flags!.has('\\Draft')).toBe(true);
        expect(draft!.source!.toString()).toContain('Half-written thoughts.');
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
    await page.click('form.compose button:has-text("Save and close")');
    await page.waitForSelector('form.compose', { state: 'detached' });
  });

  it('moves a message to Trash and undoes it; searches', async () => {
    await page.click('a.folder[data-folder=inbox]');
    await item(page, 'Live hello').click();
    await page.click('#act-delete');
    await page.waitForSelector('.toast:has-text("Moved to Trash")');
    await expect.poll(() => item(page, 'Live hello').count()).toBe(0);
    const inTrash = () => core.db.selectFrom('messages').innerJoin('folders', 'folders.id', 'messages.folder_id').select('folders.special_use as use').where('messages.mailbox_id', '=', mailboxId).where('messages.subject', '=', 'Live hello').executeTakeFirstOrThrow();
    expect((await inTrash()).use).toBe('trash');
    await page.click('.toast button:has-text("Undo")');
    await item(page, 'Live hello').waitFor();
    expect((await inTrash()).use).toBe('inbox');
    await page.keyboard.press('/');
    await page.keyboard.type('has:attachment hello');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('li.item').count()).toBe(1);
    await page.click('.search button:has-text("Clear")');
  });

  it('is driven by the keyboard: j/k move through the list, u goes back, ? lists the shortcuts', async () => {
    await deliver({ subject: 'Keyboard one', text: 'k1' });
    await item(page, 'Keyboard one').waitFor({ timeout: 15_000 });
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('j');
    await page.waitForSelector('h2.msg-subject:has-text("Keyboard one")');
    await page.keyboard.press('j');
    await page.waitForSelector('h2.msg-subject:has-text("Live hello")');
    await page.keyboard.press('k');
    await page.waitForSelector('h2.msg-subject:has-text("Keyboard one")');
    await page.keyboard.press('s');
    await expect.poll(() => core.db.selectFrom('messages').select('flagged').where('subject', '=', 'Keyboard one').where('mailbox_id', '=', mailboxId).executeTakeFirstOrThrow().then((r) => Number(r.flagged))).toBe(1);
    await page.keyboard.press('u');
    await page.waitForSelector('h2.msg-subject', { state: 'detached' });
    await page.keyboard.press('?');
    await page.waitForSelector('[role=dialog][aria-label="Keyboard shortcuts"]');
    await page.click('[role=dialog] button:has-text("Close")');
  });

  it('blocks remote images until the reader asks, and runs or loads nothing of an XSS corpus delivered over SMTP', async () => {
    const corpus = xssCorpus(beaconUrl);
    for (const x of corpus) await deliver({ subject: `xss ${x.name}`, raw: await xssMessage(x, 'Mallory <mallory@remote.test>', INBOX) });
    await item(page, 'xss remote-img').waitFor({ timeout: 15_000 });
    const dialogs: string[] = [];
    page.on('dialog', (d) => (dialogs.push(d.message()), void d.dismiss()));
    for (const x of corpus) {
      await item(page, `xss ${x.name}`).first().click();
      await page.waitForSelector(`h2.msg-subject:has-text("xss ${x.name}")`);
      await page.waitForSelector('iframe.body-frame');
      const frame = page.frameLocator('iframe.body-frame');
      // Click the links a payload hides behind, as a reader might.
      if (/link|xlink|form|base/.test(x.name)) for (const a of await frame.locator('a, button').all()) await a.click({ timeout: 300 }).catch(() => {});
      expect(await page.locator('iframe.body-frame').getAttribute('sandbox')).toBe('allow-popups allow-popups-to-escape-sandbox');
    }
    await page.waitForTimeout(500);
    expect(beaconHits).toEqual([]);
    expect(dialogs).toEqual([]);
    expect(await page.evaluate(() => (globalThis as any).__xss)).toBeUndefined();
    expect(await page.title()).toBe('Mailstack');
    // The remote image loads only when asked.
    await item(page, 'xss remote-img').click();
    await page.waitForSelector('.images-blocked');
    await shot('images-blocked');
    await page.click('.images-blocked button:has-text("Show images")');
    await until('the remote image to load', () => beaconHits.includes('/remote-img.png'));
  }, 120_000);
});

describe('dashboard', () => {
  it('adds a domain and shows its DNS records; creates an API key shown once that works', async () => {
    await page.goto(url + '/dashboard/domains');
    await page.fill('input[name=domain]', 'newbrand.test');
    await page.click('button:has-text("Add domain")');
    await page.waitForSelector('.records h3:has-text("newbrand.test")');
    expect(await page.locator('.records tbody tr').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('.records').textContent()).toMatch(/v=DKIM1|v=spf1/);
    await shot('dashboard-domains');
    await page.goto(url + '/dashboard/api-keys');
    await page.fill('input[name=key-name]', 'from the browser');
    await page.selectOption('select[aria-label=Permission]', 'full_access');
    await page.click('button:has-text("Create key")');
    const token = (await page.locator('.new-key code').textContent())!;
    expect(token).toMatch(/^ms_/);
    const check = await api(url, 'GET', '/v1/domains', { key: token });
    expect(check.status).toBe(200);
    expect(check.json.data.map((d: { name: string }) => d.name)).toContain('newbrand.test');
    await page.locator('tr[data-key="from the browser"]').waitFor();
    await page.goto(url + '/dashboard/overview');
    await page.waitForSelector('svg.chart');
    await shot('dashboard-overview');
  });

  it('refuses a cookie-authenticated write without the CSRF token', async () => {
    const status = await page.evaluate(async () => (await fetch('/v1/api-keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'csrf' }) })).status);
    expect(status).toBe(403);
    const rows = await core.db.selectFrom('api_keys').select('id').where('name', '=', 'csrf').execute();
    expect(rows).toEqual([]);
  });

  it("shows a viewer no create-key button, the server refuses the forced request, and their webmail has no one else's inbox", async () => {
    const invited = await api(url, 'POST', '/v1/members', { key: apiKey, body: { email: 'viewer@remote.test', role: 'viewer' } });
    expect(invited.status).toBe(201);
    const { user } = await ensureUser(core, core.db, 'viewer@remote.test');
    await setPassword(core, core.db, user.id, PASSWORD);
    // Nobody is a member before accepting the invitation (issue 9): accept it as the viewer would.
    await acceptAs(core, 'viewer@remote.test');
    const vctx = await browser.newContext();
    const v = await vctx.newPage();
    await signIn(v, 'viewer@remote.test', PASSWORD);
    await v.waitForSelector('text=No mailbox yet');
    await v.goto(url + '/dashboard/api-keys');
    await v.waitForSelector('h2:has-text("API keys")');
    await v.locator('tr[data-key="from the browser"]').waitFor();
    expect(await v.locator('button:has-text("Create key")').count()).toBe(0);
    const forced = await v.evaluate(async () => {
      const s: any = await (await fetch('/v1/auth/session')).json();
      const r = await fetch('/v1/api-keys', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token }, body: JSON.stringify({ name: 'forced' }) });
      return r.status;
    });
    expect(forced).toBe(403);
    // The owner's inbox is not the viewer's to open, even by id.
    const read = await v.evaluate(async (id) => (await fetch(`/v1/webmail/mailboxes/${id}/folders`)).status, mailboxId);
    expect(read).toBe(404);
    await vctx.close();
  });

  it('lists your sessions and revokes another one, which is then signed out', async () => {
    const other = await (await browser.newContext()).newPage();
    await signIn(other, OWNER, PASSWORD);
    await other.waitForSelector('a.folder[data-folder=inbox]');
    await page.goto(url + '/dashboard/sessions');
    await page.waitForSelector('h2:has-text("Your sessions")');
    await expect.poll(() => page.locator('tr[data-session] button:has-text("Revoke")').count()).toBeGreaterThan(0);
    while (await page.locator('tr[data-session] button:has-text("Revoke")').count()) {
      const n = await page.locator('tr[data-session] button:has-text("Revoke")').count();
      await page.locator('tr[data-session] button:has-text("Revoke")').first().click();
      await expect.poll(() => page.locator('tr[data-session] button:has-text("Revoke")').count()).toBeLessThan(n);
    }
    expect(await page.locator('tr[data-session]', { hasText: '(this one)' }).count()).toBe(1);
    await other.reload();
    await other.waitForSelector('form.signin');
    await other.context().close();
  });

  it('shows a message the person can act on when a request fails, not a blank page', async () => {
    const c = await browser.newContext({ storageState: await ctx.storageState() });
    const p = await c.newPage();
    await p.route('**/v1/webmail/mailboxes', (r) => r.abort('connectionrefused'));
    await p.goto(url + '/mail');
    const alert = p.locator('[role=alert]');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/could not be loaded: The server cannot be reached/);
    await c.close();
  });

  it('is usable at 390 px wide: no horizontal scrolling, the list then the message', async () => {
    const m = await (await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await ctx.storageState() })).newPage();
    await m.goto(url + '/mail');
    await item(m, 'Live hello').waitFor();
    expect(await m.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('phone-list', m);
    await item(m, 'Live hello').click();
    await m.waitForSelector('h2.msg-subject');
    expect(await m.locator('section.list').isVisible()).toBe(false);
    expect(await m.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('phone-message', m);
    await m.context().close();
  });
});

describe('captured mail (development mode)', () => {
  it('lists what a development node would have sent, with its HTML in a sandbox and its raw source', async () => {
    const dev = await startTestServer({ env: { MAILSTACK_MODE: 'development' } });
    try {
      const key = (await dev.setup('dev@example.com', 'Dev', PASSWORD)).apiKey;
      const resend = dev.resend(key);
      const domain = (await resend.domains.create({ name: 'devmode.test' })).data!;
      await resend.domains.verify(domain.id);
      const sent = await resend.emails.send({ from: 'app@devmode.test', to: 'friend@elsewhere.example', subject: 'Captured in the browser', html: '<p>Hello <b>captured</b></p>', text: 'Hello captured' });
      expect(sent.error).toBeNull();
      await until('the capture', async () => (await api(dev.url, 'GET', '/v1/captured', { key })).json?.data?.length > 0);
      const p = await (await browser.newContext()).newPage();
      url = dev.url;
      await signIn(p, 'dev@example.com', PASSWORD);
      await p.click('nav a:has-text("Captured mail")');
      await p.click('li.item:has-text("Captured in the browser")');
      const frame = p.locator('.captured iframe.body-frame');
      expect(await frame.getAttribute('sandbox')).toBe('');
      expect(await p.frameLocator('.captured iframe.body-frame').locator('b').textContent()).toBe('captured');
      await shot('captured', p);
      await p.click('button[role=tab]:has-text("raw")');
      expect(await p.locator('pre.raw').textContent()).toMatch(/DKIM-Signature:/i);
      await p.context().close();
    } finally {
      url = world.server.url;
      await dev.stop();
    }
  }, 60_000);
});
