// The web app: time from navigation to the first thread list painted and to a message opened, on
// a folder of 10,000 and of 50,000 messages, and the gzipped size of the JavaScript loaded before
// the first paint. Chromium (/usr/bin/chromium) through playwright-core against a real node on
// SQLite. The folder is filled by copying one delivered message's row (the list reads rows only;
// opening reads the one message's file).
//
//   npx tsx bench/web.ts        (BENCH_WEB_SIZES=10000,50000 by default)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { newId } from '../src/core/ids.ts';
import { ensureWebBuilt, launchChromium } from '../src/testkit/browser.ts';
import { appendTestMessage, createTestMailbox, rawMessage } from '../src/testkit/mailbox.ts';
import { ROOT, startTestServer } from '../src/testkit/server.ts';

const SIZES = (process.env.BENCH_WEB_SIZES ?? '10000,50000').split(',').map(Number);
const RUNS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await ensureWebBuilt();
const index = readFileSync(path.join(ROOT, 'web/dist/index.html'), 'utf8');
const scripts = [...index.matchAll(/src="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]);
const gz = scripts.reduce((n, f) => n + gzipSync(readFileSync(path.join(ROOT, 'web/dist/assets', f)), { level: 9 }).length, 0);
console.log(`JavaScript before first paint: ${scripts.join(', ')}, ${(gz / 1024).toFixed(1)} KB gzipped`);

const browser = await launchChromium();
const rows: string[] = [];
for (const n of SIZES) {
  const server = await startTestServer();
  try {
    const core = server.platform.core;
    const s = await server.setup(`bench${n}@example.com`, 'Bench', 'bench password 1');
    const box = await createTestMailbox(core, { workspaceId: s.workspaceId, ownerUserId: s.userId });
    const first = await appendTestMessage(core, box.mailbox, rawMessage({ subject: 'Seed', text: 'A message body.' }));
    const src = await core.db.selectFrom('messages').selectAll().where('mailbox_id', '=', box.mailbox.id).executeTakeFirstOrThrow();
    const folderId = src.folder_id;
    void first;
    await core.store.transaction(async (tx) => {
      const now = Date.now();
      for (let i = 2; i <= n; i += 500) {
        const batch = [];
        for (let u = i; u < Math.min(i + 500, n + 1); u++) batch.push({ ...src, id: newId(now + u), uid: u, modseq: u + 1, subject: `Message ${u}`, internal_date: now - (n - u) * 1000 });
        await tx.insertInto('messages').values(batch).execute();
      }
      await tx.updateTable('folders').set({ uid_next: n + 1, highest_modseq: n + 2 }).where('id', '=', folderId).execute();
    });
    const login = await fetch(`${server.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `bench${n}@example.com`, password: 'bench password 1' }) });
    const cookie = login.headers.get('set-cookie')!.split(';')[0].split('=');
    const list: number[] = [];
    const open: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      await ctx.addCookies([{ name: cookie[0], value: cookie[1], url: server.url }]);
      const page = await ctx.newPage();
      if (process.env.BENCH_WEB_TRACE) page.on('requestfinished', (req) => { const t = req.timing(); console.log(`${Math.round(t.responseEnd)} ms ${req.method()} ${req.url().replace(server.url, '')}`); });
      const t0 = Date.now();
      await page.goto(`${server.url}/mail/${box.mailbox.id}/${folderId}`, { waitUntil: 'commit' });
      await page.waitForSelector(`li.item:has-text("Message ${n}")`);
      list.push(Date.now() - t0);
      const t1 = Date.now();
      await page.click(`li.item:has-text("Message ${n}")`);
      await page.waitForSelector(`h2.msg-subject:has-text("Message ${n}")`);
      open.push(Date.now() - t1);
      await ctx.close();
    }
    rows.push(`| ${n.toLocaleString('en')} messages | ${median(list)} ms | ${median(open)} ms |`);
  } finally {
    await server.stop();
  }
}
await browser.close();
console.log(`\n| folder | navigation → first list painted (median of ${RUNS}) | click → message shown |\n|---|---|---|\n${rows.join('\n')}`);
