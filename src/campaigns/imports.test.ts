// CSV imports through the SDK's multipart form against a real node: a file with bad rows (each
// reported with its line and skipped), files refused before anything is written, progress read
// while it runs, an interrupted import resumed without applying a row twice, a 10,000-row file
// (20 chunks: progress is seen between them; bench/campaigns.ts imports 1,000,000), the
// CLI with its progress lines, hostile cells kept as text, and the walls between workspaces.
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from './imports.ts';
import { type TestServer, runCli, startTestServer } from '../testkit/server.ts';
import { waitFor } from '../testkit/webhook-receiver.ts';

let server: TestServer;
let resend: Resend;
let other: Resend;
let workspaceId: string;
const MAX = 4 * 1024 * 1024;

beforeAll(async () => {
  server = await startTestServer({ env: { MAILSTACK_IMPORT_MAX_BYTES: String(MAX) } });
  const ws = await server.setup('owner@imports.test', 'Imports');
  workspaceId = ws.workspaceId;
  resend = server.resend(ws.apiKey);
  other = server.resend((await server.setup('owner@other.test', 'Other')).apiKey);
  expect((await resend.contactProperties.create({ key: 'seats', type: 'number' })).error).toBeNull();
  expect((await resend.contactProperties.create({ key: 'company', type: 'string' })).error).toBeNull();
});
afterAll(async () => {
  await server?.stop();
});

const csv = (text: string) => new Blob([text], { type: 'text/csv' });

async function finished(client: Resend, id: string) {
  return waitFor('import finished', async () => {
    const { data } = await client.contacts.imports.get(id);
    return data && (data.status === 'completed' || data.status === 'failed') ? (data as any) : null;
  }, 120_000);
}

describe('contact imports', () => {
  it('imports good rows and reports each bad one with its line number', async () => {
    const seg = (await resend.segments.create({ name: 'Imported' })).data!;
    const file = [
      'email,first_name,last_name,seats,company',
      'ann@example.org,Ann,Lee,3,Acme',
      'not-an-address,Bad,Row,1,X',
      'ben@example.org,Ben,,many,Y',
      '"cy@example.org","Cy, Jr.","O""Neil",,"Multi',
      'line"',
      'dee@example.org,Dee,,2,Z,extra-cell',
      '"=cmd|\' /C calc\'!A0@example.org",x,,,',
      'eve@example.org,"=HYPERLINK(""http://evil.example"")",,,@SUM(1+1)',
      'ANN@example.org,Annie,,,',
    ].join('\r\n');
    const { data, error } = await resend.contacts.imports.create({ file: csv(file), segments: [{ id: seg.id }] });
    expect(error).toBeNull();
    expect(data).toMatchObject({ object: 'contact_import', id: expect.any(String) });
    const done = await finished(resend, data!.id);
    expect(done).toMatchObject({ status: 'completed', counts: { total: 8, created: 3, updated: 1, skipped: 0, failed: 4 }, rows_done: 8 });
    // Lines of the file: the quoted CRLF inside Cy's row makes it two lines (5 and 6).
    expect(done.errors.map((e: any) => e.line)).toEqual([3, 4, 7, 8]);
    expect(done.errors[0].message).toMatch(/not an email address/);
    expect(done.errors[1].message).toMatch(/`seats` is a number/);
    expect(done.errors[2].message).toMatch(/unknown column 6/);

    const cy = (await resend.contacts.get({ email: 'cy@example.org' })).data!;
    expect(cy).toMatchObject({ first_name: 'Cy, Jr.', last_name: 'O"Neil' });
    expect(cy.properties.company).toEqual({ type: 'string', value: 'Multi\r\nline' });
    // Formula-looking cells are text, kept exactly.
    const eve = (await resend.contacts.get({ email: 'eve@example.org' })).data!;
    expect(eve.first_name).toBe('=HYPERLINK("http://evil.example")');
    expect(eve.properties.company).toEqual({ type: 'string', value: '@SUM(1+1)' });
    // The later row for the same address (another case) updated the first.
    expect((await resend.contacts.get({ email: 'ann@example.org' })).data).toMatchObject({ first_name: 'Annie', last_name: 'Lee', properties: { seats: { type: 'number', value: 3 } } });
    expect((await resend.contacts.list({ segmentId: seg.id })).data!.data.map((c) => c.email).sort()).toEqual(["ann@example.org", "cy@example.org", "eve@example.org"]);
    const list = (await resend.contacts.imports.list({ status: 'completed' })).data!;
    expect(list.data.map((i) => i.id)).toContain(data!.id);
  });

  it('honours a column map and on_conflict: skip', async () => {
    const file = 'E-Mail,Vorname,Firma\nann@example.org,Anna,Other\nfay@example.org,Fay,Fab\n';
    const { data } = await resend.contacts.imports.create({ file: csv(file), columnMap: { email: 'E-Mail', firstName: 'Vorname', properties: { company: { column: 'Firma' } } }, onConflict: 'skip' });
    const done = await finished(resend, data!.id);
    expect(done.counts).toEqual({ total: 2, created: 1, updated: 0, skipped: 1, failed: 0 });
    expect((await resend.contacts.get({ email: 'ann@example.org' })).data!.first_name).toBe('Annie');
    expect((await resend.contacts.get({ email: 'fay@example.org' })).data).toMatchObject({ first_name: 'Fay', properties: { company: { type: 'string', value: 'Fab' } } });
  });

  it('refuses, before writing anything, a file that is not CSV, has no email column or maps a missing column', async () => {
    const before = (await resend.contacts.list({ limit: 100 })).data!.data.length;
    const cases: [Blob, any, RegExp][] = [
      [new Blob([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52])]), {}, /not CSV/],
      [csv('name,first_name\nx,y\n'), {}, /no `email` column/],
      [csv('email\na@example.org\n'), { columnMap: { email: 'email', firstName: 'given' } }, /no `given` column/],
      [csv('email\na@example.org\n'), { columnMap: { email: 'email', properties: { nope: { column: 'email' } } } }, /Unknown contact property `nope`/],
      [csv('"email\na@example.org\n'), {}, /not valid CSV/],
      [csv(''), {}, /empty/],
    ];
    for (const [file, opts, message] of cases) {
      const { error } = await resend.contacts.imports.create({ file, ...opts });
      expect(error, String(message)).toMatchObject({ statusCode: 422 });
      expect(error!.message).toMatch(message);
    }
    const seg = await resend.contacts.imports.create({ file: csv('email\na@example.org\n'), segments: [{ id: '0190f0e0-0000-7000-8000-000000000000' }] });
    expect(seg.error?.statusCode).toBe(404);
    expect((await resend.contacts.list({ limit: 100 })).data!.data.length).toBe(before);
  });

  it('a file that turns hostile further down fails cleanly, saying how many rows were applied', async () => {
    const rows = ['email'];
    for (let i = 0; i < 600; i++) rows.push(`early${i}@example.net`);
    rows.push(`"${'x'.repeat(100_000)}@example.net"`);
    rows.push('late@example.net');
    const { data, error } = await resend.contacts.imports.create({ file: csv(rows.join('\n')) });
    expect(error).toBeNull();
    const done = await finished(resend, data!.id);
    expect(done.status).toBe('failed');
    expect(done.failure).toMatch(/No row was applied|after \d+ rows were applied/);
    expect(done.rows_done).toBe(done.counts.created + done.counts.updated + done.counts.failed + done.counts.skipped);
    expect((await resend.contacts.get({ email: 'late@example.net' })).error?.statusCode).toBe(404);
  });

  it('refuses an upload over the size limit, and a 1 GB declared upload before reading it', async () => {
    const big = 'email\n' + 'x'.repeat(MAX + 10);
    const { error } = await resend.contacts.imports.create({ file: csv(big) });
    expect(error).toMatchObject({ statusCode: 413 });
    const url = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, path: '/v1/contacts/imports', method: 'POST', headers: { authorization: `Bearer ${(resend as any).key}`, 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(1024 ** 3) } }, (res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        req.destroy();
      });
      req.on('error', reject);
      req.write('--x\r\n');
    });
    expect(status).toBe(413);
  });

  it('shows progress while it runs and takes a file of many chunks whole', async () => {
    const N = 10_000;
    const rows = ['email,seats'];
    for (let i = 0; i < N; i++) rows.push(`bulk${i}@example.net,${i}`);
    const body = rows.join('\n');
    const { data } = await resend.contacts.imports.create({ file: csv(body) });
    const id = data!.id;
    const seen = await waitFor('progress under way', async () => {
      const d = (await resend.contacts.imports.get(id)).data as any;
      return d && d.status === 'in_progress' && d.rows_done > 0 && d.rows_done < N ? d : null;
    }, 60_000);
    expect(seen.counts.total).toBe(N);
    const done = await finished(resend, id);
    expect(done).toMatchObject({ status: 'completed', rows_done: N, counts: { total: N, created: N, failed: 0 } });
    expect((await resend.contacts.get({ email: `bulk${N - 1}@example.net` })).data!.properties.seats).toEqual({ type: 'number', value: N - 1 });
    const stored = await server.platform.core.db.selectFrom('contacts').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', workspaceId).where('email', 'like', 'bulk%').executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(N);
  }, 120_000);

  it('an import stopped between chunks resumes where it stopped', async () => {
    const rows = ['email'];
    for (let i = 0; i < 1500; i++) rows.push(`resume${i}@example.net`);
    const core = server.platform.core;
    const { receiveFile, createImport } = await import('./imports.ts');
    const { Readable } = await import('node:stream');
    const file = await receiveFile(core, Readable.from([Buffer.from(rows.join('\n'))]));
    const id = await createImport(core, workspaceId, file, { column_map: null, on_conflict: 'upsert', segments: [], topics: [] }, false);
    const stop = new AbortController();
    const first = await runImport(core, id, { signal: stop.signal, onProgress: (r) => r.processed >= 500 && stop.abort() });
    expect(first).toMatchObject({ status: 'in_progress', processed: 500 });
    const second = await runImport(core, id);
    expect(second).toMatchObject({ status: 'completed', processed: 1500, created: 1500, updated: 0 });
  }, 120_000);

  it('mailstack contacts import FILE --workspace W imports from the CLI with progress lines', async () => {
    const file = path.join(server.db.dataDir, 'cli.csv');
    writeFileSync(file, 'email,first_name\ncli1@example.org,One\nbroken,Two\ncli2@example.org,Three\n');
    const r = runCli(['contacts', 'import', file, '--workspace', workspaceId], server.env);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out).toMatchObject({ status: 'completed', counts: { total: 3, created: 2, failed: 1 } });
    expect(out.errors[0]).toMatchObject({ line: 3 });
    const progress = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(progress.at(-1)).toMatchObject({ task: 'contacts import', finished: true });
    expect((await resend.contacts.get({ email: 'cli2@example.org' })).data!.first_name).toBe('Three');
    const bad = runCli(['contacts', 'import', file, '--workspace', 'no-such-workspace'], server.env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/workspace/i);
  }, 150_000);

  it('another workspace cannot read an import nor see what it created', async () => {
    const { data, error } = await resend.contacts.imports.create({ file: csv('email\nwall@example.org\n') });
    expect(error).toBeNull();
    await finished(resend, data!.id);
    expect((await other.contacts.imports.get(data!.id)).error?.statusCode).toBe(404);
    expect((await other.contacts.imports.list()).data!.data).toEqual([]);
    expect((await other.contacts.get({ email: 'wall@example.org' })).error?.statusCode).toBe(404);
  });
});
