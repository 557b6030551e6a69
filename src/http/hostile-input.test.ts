// Hostile input over real HTTP: malformed and oversized bodies, wrong types and content types,
// unknown fields, very long strings, meta-characters, odd paths and methods. Every answer is a
// 4xx in Resend's shape ({ statusCode, name, message }) or a success; never a 500. Names with
// SQL, HTML and emoji are stored and returned byte for byte.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

const BODY_LIMIT = 2048;

let server: TestServer;
let key: string;
let workspaceId: string;
/** Every response of this file, to check at the end that none was a 500. */
const statuses: { what: string; status: number }[] = [];

async function call(method: string, path: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string>; key?: string | null } = {}) {
  const r = await api(server.url, method, path, { key: opts.key === null ? undefined : (opts.key ?? key), body: opts.body, raw: opts.raw, headers: opts.headers });
  statuses.push({ what: `${method} ${path.slice(0, 80)}`, status: r.status });
  return r;
}

/** A 4xx with exactly Resend's error shape. */
function expectError(r: { status: number; json: any; headers: Headers }, status: number, name?: string) {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  expect(r.json).toEqual({ statusCode: status, name: name ?? expect.any(String), message: expect.any(String) });
  expect(r.json.message.length).toBeGreaterThan(0);
}

async function keyNamed(id: string): Promise<string | undefined> {
  const list = await call('GET', '/v1/api-keys?limit=100');
  return list.json.data.find((k: any) => k.id === id)?.name;
}

async function keyCount(): Promise<number> {
  const rows = await server.platform.core.db.selectFrom('api_keys').select('id').where('workspace_id', '=', workspaceId).execute();
  return rows.length;
}

beforeAll(async () => {
  server = await startTestServer({ env: { MAILSTACK_HTTP_BODY_LIMIT: String(BODY_LIMIT) } });
  ({ apiKey: key, workspaceId } = await server.setup('owner@example.com', 'Acme'));
});
afterEach(() => {
  const errors = statuses.filter((s) => s.status >= 500);
  expect(errors, 'no response may be a 5xx').toEqual([]);
});
afterAll(() => server?.stop());

describe('malformed and oversized bodies', () => {
  it('answers malformed JSON with 400 validation_error', async () => {
    for (const raw of ['{', '{"name":', '{"name": "x",}', "{'name': 'x'}", 'name=x', '{"name": "x"} trailing', '\u0000', 'nul', '[1,2', '"unterminated']) {
      const r = await call('POST', '/v1/api-keys', { raw });
      expectError(r, 400, 'validation_error');
    }
    // The same on every write route.
    for (const [method, path] of [['PATCH', '/v1/workspace'], ['POST', '/v1/members'], ['PATCH', '/v1/api-keys/x']]) {
      expectError(await call(method, path, { raw: '{oops' }), 400, 'validation_error');
    }
  });

  it(`answers a body over the limit (${BODY_LIMIT} bytes) with 413 in Resend's shape, and stores nothing`, async () => {
    const before = await keyCount();
    const big = JSON.stringify({ name: 'big', padding: 'x'.repeat(BODY_LIMIT) });
    const r = await call('POST', '/v1/api-keys', { raw: big });
    expectError(r, 413);
    expect(r.json.message).toContain(String(BODY_LIMIT));
    // Not JSON at all, and over the limit: still 413 (the size is checked first).
    expectError(await call('POST', '/v1/api-keys', { raw: 'x'.repeat(BODY_LIMIT * 4) }), 413);
    // Just under the limit is fine (and then judged on its content).
    // (padded with JSON whitespace: unknown fields are refused, issue 9)
    const under = JSON.stringify({ name: 'under' }).padEnd(BODY_LIMIT - 10, ' ');
    expect(Buffer.byteLength(under)).toBeLessThanOrEqual(BODY_LIMIT);
    expect((await call('POST', '/v1/api-keys', { raw: under })).status).toBe(201);
    expect(await keyCount()).toBe(before + 1);
  });

  it('answers 413 for a chunked body over the limit too', async () => {
    const chunks = [Buffer.from('{"name":"'), Buffer.from('z'.repeat(BODY_LIMIT)), Buffer.from('"}')];
    const stream = new ReadableStream({
      start(controller) {
        for (const c of chunks) controller.enqueue(c);
        controller.close();
      },
    });
    const res = await fetch(`${server.url}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    statuses.push({ what: 'chunked', status: res.status });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ statusCode: 413, name: expect.any(String) });
  });

  it('answers a null, array, string or number body with 422 validation_error', async () => {
    const before = await keyCount();
    for (const raw of ['null', '[]', '[{"name":"x"}]', '"name"', '42', 'true']) {
      const r = await call('POST', '/v1/api-keys', { raw });
      expectError(r, 422, 'validation_error');
    }
    // And a route with a body schema called with no body at all.
    expectError(await call('POST', '/v1/api-keys'), 422, 'validation_error');
    expectError(await call('POST', '/v1/api-keys', { raw: '' }), 422, 'validation_error');
    expect(await keyCount()).toBe(before);
  });

  it('refuses a body that is not JSON (wrong content type) with a 4xx, never storing it', async () => {
    const before = await keyCount();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x', 'image/png']) {
      const r = await call('POST', '/v1/api-keys', { raw: type.startsWith('application/x-www') ? 'name=form' : '{"name":"typed"}', headers: { 'content-type': type } });
      expect(r.status, type).toBeGreaterThanOrEqual(400);
      expect(r.status, type).toBeLessThan(500);
      expect(r.json, type).toMatchObject({ statusCode: r.status, name: expect.any(String), message: expect.any(String) });
    }
    expect(await keyCount()).toBe(before);
    // A JSON type with parameters is still JSON.
    expect((await call('POST', '/v1/api-keys', { raw: '{"name":"charset"}', headers: { 'content-type': 'application/json; charset=utf-8' } })).status).toBe(201);
  });
});

describe('fields', () => {
  it('refuses unknown fields with 422 naming the field (issue 9: never silently dropped), and stores nothing', async () => {
    const before = await keyCount();
    const r = await call('POST', '/v1/api-keys', { body: { name: 'extra', is_admin: true, workspace_id: 'someone-else', permission: 'full_access', token: 'ms_chosen', created_at: 0 } });
    expectError(r, 422, 'validation_error');
    expect(r.json.message).toMatch(/`(is_admin|workspace_id|token|created_at)` field is not known/);
    expect(await keyCount()).toBe(before);
    const created = await call('POST', '/v1/api-keys', { body: { name: 'extra' } });
    expect(created.status).toBe(201);
    const renamed = await call('PATCH', `/v1/api-keys/${created.json.id}`, { body: { name: 'extra2', permission: 'full_access', id: 'other' } });
    expectError(renamed, 422, 'validation_error');
    const listed = (await call('GET', '/v1/api-keys?limit=100')).json.data.find((k: any) => k.id === created.json.id);
    expect(listed.name).toBe('extra');
    const ws = await call('PATCH', '/v1/workspace', { body: { name: 'Acme', id: 'other-ws', closed_at: 1 } });
    expectError(ws, 422, 'validation_error');
    expect((await call('GET', '/v1/workspace')).json.id).toBe(workspaceId);
  });

  it('refuses prototype-poisoning keys with 400 validation_error and pollutes nothing', async () => {
    for (const raw of ['{"name":"p","__proto__":{"polluted":1}}', '{"name":"p","constructor":{"prototype":{"polluted":1}}}']) {
      expectError(await call('POST', '/v1/api-keys', { raw }), 400, 'validation_error');
    }
    expect(({} as any).polluted).toBeUndefined();
  });

  it('refuses absurdly deep nesting with 422, not a stack overflow', async () => {
    const raw = `{"name":${'['.repeat(1000)}${']'.repeat(1000)}}`;
    expect(raw.length).toBeLessThan(BODY_LIMIT);
    expectError(await call('POST', '/v1/api-keys', { raw }), 422, 'validation_error');
    expectError(await call('POST', '/v1/api-keys', { raw: `{"name":"deep","x":${'{"a":'.repeat(300)}1${'}'.repeat(300)}}` }), 422, 'validation_error');
  });

  it('takes a 50-character name and refuses a 51-character one with 422 validation_error', async () => {
    const ok = await call('POST', '/v1/api-keys', { body: { name: 'n'.repeat(50) } });
    expect(ok.status).toBe(201);
    expect(await keyNamed(ok.json.id)).toBe('n'.repeat(50));
    expectError(await call('POST', '/v1/api-keys', { body: { name: 'n'.repeat(51) } }), 422, 'validation_error');
    expectError(await call('PATCH', `/v1/api-keys/${ok.json.id}`, { body: { name: 'n'.repeat(51) } }), 422, 'validation_error');
    expect(await keyNamed(ok.json.id)).toBe('n'.repeat(50));
    // Characters, not UTF-16 units: 50 rockets fit, 51 do not.
    const rockets = await call('POST', '/v1/api-keys', { body: { name: '🚀'.repeat(50) } });
    expect(rockets.status).toBe(201);
    expect(await keyNamed(rockets.json.id)).toBe('🚀'.repeat(50));
    expectError(await call('POST', '/v1/api-keys', { body: { name: '🚀'.repeat(51) } }), 422, 'validation_error');
  });

  it('refuses 10 KB strings in every field with 422, not 500 (on a node whose body limit allows them)', async () => {
    const roomy = await startTestServer({ env: { MAILSTACK_HTTP_BODY_LIMIT: String(1024 * 1024) } });
    try {
      const { apiKey } = await roomy.setup('owner@example.com', 'Roomy');
      const long = 'A'.repeat(10 * 1024);
      const tries: [string, string, unknown][] = [
        ['POST', '/v1/api-keys', { name: long }],
        ['POST', '/v1/api-keys', { name: 'ok', permission: long }],
        ['POST', '/v1/api-keys', { name: 'ok', permission: 'sending_access', domain_id: long }],
        ['PATCH', '/v1/workspace', { name: long }],
        ['POST', '/v1/members', { email: `${long}@example.com`, role: 'viewer' }],
        ['POST', '/v1/members', { email: 'ok@example.com', role: long }],
        ['POST', '/v1/auth/login', { email: `${long}@example.com`, password: 'x' }],
        ['POST', '/v1/auth/login', { email: 'owner@example.com', password: long }],
      ];
      for (const [method, path, body] of tries) {
        const r = await api(roomy.url, method, path, { key: apiKey, body });
        statuses.push({ what: `${method} ${path} (10 KB)`, status: r.status });
        expect(r.status, `${method} ${path} ${Object.keys(body as object)}`).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(r.json).toMatchObject({ statusCode: r.status, name: expect.any(String) });
      }
      const ws = await api(roomy.url, 'GET', '/v1/workspace', { key: apiKey });
      expect(ws.json.name).toBe('Roomy');
    } finally {
      await roomy.stop();
    }
  });

  it('refuses wrong types with 422 validation_error', async () => {
    const before = await keyCount();
    for (const body of [{ name: {} }, { name: { $ne: null } }, { name: ['a', 'b'] }, { name: [] }, { name: null }, { name: '' }, { name: 'ok', permission: 'root' }, { name: 'ok', permission: 1 }, { name: 'ok', permission: ['sending_access', 'full_access'] }, { name: 123 }, { name: true }, { name: ['single'] }]) {
      const r = await call('POST', '/v1/api-keys', { body });
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.json).toMatchObject({ statusCode: 422, name: 'validation_error' });
    }
    for (const body of [{ email: {}, role: 'viewer' }, { email: 'x@example.com', role: ['viewer', 'admin'] }, { email: 'x@example.com', role: null }, { email: 'x@example.com', role: ['owner'] }]) {
      expectError(await call('POST', '/v1/members', { body }), 422, 'validation_error');
    }
    expectError(await call('PATCH', '/v1/workspace', { body: { name: { toString: 'x' } } }), 422, 'validation_error');
    expect(await keyCount()).toBe(before);
  });

  it('refuses whitespace-only names', async () => {
    expectError(await call('POST', '/v1/api-keys', { body: { name: '   ' } }), 422, 'validation_error');
    expectError(await call('PATCH', '/v1/workspace', { body: { name: ' \t ' } }), 422, 'validation_error');
  });

  it('refuses NUL characters with 422 on both stores (PostgreSQL cannot store them)', async () => {
    const before = await keyCount();
    expectError(await call('POST', '/v1/api-keys', { body: { name: 'a\u0000b' } }), 422, 'validation_error');
    expectError(await call('PATCH', '/v1/workspace', { body: { name: 'Acme\u0000' } }), 422, 'validation_error');
    expectError(await call('POST', '/v1/members', { body: { email: 'nul\u0000@example.com', role: 'viewer' } }), 422, 'validation_error');
    expectError(await call('POST', '/v1/auth/login', { body: { email: 'owner@example.com', password: 'pass\u0000word' }, key: null }), 422, 'validation_error');
    expectError(await call('GET', '/v1/audit-log?action=%00'), 422, 'validation_error');
    expectError(await call('GET', '/v1/api-keys?after=%00'), 422, 'validation_error');
    expectError(await call('DELETE', '/v1/api-keys/%00'), 422, 'validation_error');
    expectError(await call('DELETE', '/v1/members/a%00b'), 422, 'validation_error');
    expect(await keyCount()).toBe(before);
    expect((await call('GET', '/v1/workspace')).json.name).toBe('Acme');
  });
});

describe('meta-characters and emoji', () => {
  const NAMES = [
    "'); DROP TABLE api_keys;--",
    '<script>alert(1)</script>',
    '👩‍💻🚀',
    '" OR 1=1 --',
    "Robert'); DELETE FROM audit_log; --",
    '%s%n%x {{7*7}} ${7*7} \\u0000',
    '  leading and trailing  ',
    'back\\slash "quotes" `ticks`',
    'ünïcødé — ñ 日本語 עברית',
    '<img src=x onerror=alert(1)>&amp;',
  ];

  it('stores key names verbatim and returns them unchanged, through raw HTTP and the SDK', async () => {
    for (const name of NAMES) {
      const r = await call('POST', '/v1/api-keys', { body: { name } });
      expect(r.status, name).toBe(201);
      expect(await keyNamed(r.json.id)).toBe(name);
      const row = await server.platform.core.db.selectFrom('api_keys').select('name').where('id', '=', r.json.id).executeTakeFirstOrThrow();
      expect(row.name).toBe(name);
    }
    const sdk = server.resend(key);
    const made = await sdk.apiKeys.create({ name: '🦄 <b>bold</b> \'quoted\'' });
    expect(made.error).toBeNull();
    const listed = await sdk.apiKeys.list({ limit: 100 });
    expect(listed.data!.data.find((k) => k.id === made.data!.id)!.name).toBe('🦄 <b>bold</b> \'quoted\'');
    // The tables are all still there, and the JSON is served as JSON (no HTML).
    const list = await call('GET', '/v1/api-keys?limit=100');
    expect(list.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await keyCount()).toBeGreaterThanOrEqual(NAMES.length + 1);
    expect((await call('GET', '/v1/audit-log?limit=1')).status).toBe(200);
  });

  it('renames keys and the workspace to such names verbatim, and the audit log records them verbatim', async () => {
    const id = (await call('POST', '/v1/api-keys', { body: { name: 'plain' } })).json.id;
    for (const name of NAMES) {
      expect((await call('PATCH', `/v1/api-keys/${id}`, { body: { name } })).status).toBe(200);
      expect(await keyNamed(id)).toBe(name);
    }
    const wsName = "Acme <script>x</script> '; DROP TABLE workspaces;-- 🚀";
    const ws = await call('PATCH', '/v1/workspace', { body: { name: wsName } });
    expect(ws.status).toBe(200);
    expect(ws.json.name).toBe(wsName);
    expect((await call('GET', '/v1/workspace')).json.name).toBe(wsName);
    const entry = (await call('GET', '/v1/audit-log?action=workspace.updated&limit=1')).json.data[0];
    expect(entry.data.name.to).toBe(wsName);
    await call('PATCH', '/v1/workspace', { body: { name: 'Acme' } });
  });

  it('treats meta-characters in query strings and path parameters as plain data', async () => {
    for (const q of ["action=' OR 1=1 --", 'action=<script>', 'action=👩‍💻', "after=' OR ''='", 'before=%27%3B--', 'limit=1;DROP']) {
      const r = await call('GET', `/v1/audit-log?${q.replace(/ /g, '%20')}`);
      expect(r.status, q).toBeLessThan(500);
      if (r.status === 200) expect(r.json.object).toBe('list');
      else expectError(r, r.status, 'validation_error');
    }
    for (const id of ["'%20OR%201=1--", '%3Cscript%3E', '..%2F..%2Fetc%2Fpasswd', encodeURIComponent('👩‍💻'), '*', '%25']) {
      const r = await call('DELETE', `/v1/api-keys/${id}`);
      expectError(r, 404, 'not_found');
    }
    expect(await keyCount()).toBeGreaterThan(0);
  });
});

describe('paths, methods and headers', () => {
  it('answers a 10 KB path parameter with a 4xx JSON error, not a 500', async () => {
    const long = 'p'.repeat(10 * 1024);
    for (const [method, path, body] of [
      ['DELETE', `/v1/api-keys/${long}`, undefined],
      ['PATCH', `/v1/api-keys/${long}`, { name: 'x' }],
      ['PATCH', `/v1/members/${long}`, { role: 'viewer' }],
      ['DELETE', `/v1/members/${long}`, undefined],
      ['GET', `/v1/${long}`, undefined],
    ] as const) {
      const r = await call(method, path, { body });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.json).toMatchObject({ statusCode: r.status, name: expect.any(String) });
    }
    // Broken percent-encoding in the path.
    expectError(await call('DELETE', '/v1/api-keys/%E0%A4%A'), 400, 'validation_error');
    // A parameter just past the schema's limit (100) but inside the router's: 422.
    expectError(await call('DELETE', `/v1/api-keys/${'q'.repeat(150)}`), 422, 'validation_error');
  });

  it('answers unknown routes with 404 not_found JSON, with or without a key', async () => {
    for (const [method, path] of [['GET', '/v1/nope'], ['POST', '/v1/nope'], ['GET', '/v2/api-keys'], ['POST', '/nothing/here'], ['PUT', '/v1/api-keys'], ['PATCH', '/v1/audit-log'], ['GET', '/v1/api-keys/x/y']]) {
      for (const k of [key, null]) {
        const r = await call(method, path, { key: k });
        expect(r.status, `${method} ${path} ${k ? 'key' : 'no key'}`).toBe(404);
        expectError(r, 404, 'not_found');
      }
    }
    // Any other GET outside the API is the web app's page (its router shows what exists), never JSON.
    const page = await fetch(`${server.url}/nothing/here`);
    expect(page.headers.get('content-type')).toMatch(/^text\/(html|plain)/);
    expect([200, 503]).toContain(page.status);
  });

  it('answers HEAD like GET without a body, and OPTIONS without a 500', async () => {
    const head = await fetch(`${server.url}/v1/api-keys`, { method: 'HEAD', headers: { authorization: `Bearer ${key}` } });
    statuses.push({ what: 'HEAD', status: head.status });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await head.text()).toBe('');
    const headNoKey = await fetch(`${server.url}/v1/api-keys`, { method: 'HEAD' });
    statuses.push({ what: 'HEAD no key', status: headNoKey.status });
    expect(headNoKey.status).toBe(401);
    const restricted = (await call('POST', '/v1/api-keys', { body: { name: 'sender', permission: 'sending_access' } })).json.token;
    const headSender = await fetch(`${server.url}/v1/audit-log`, { method: 'HEAD', headers: { authorization: `Bearer ${restricted}` } });
    statuses.push({ what: 'HEAD sender', status: headSender.status });
    expect(headSender.status).toBe(403);

    for (const path of ['/v1/api-keys', '/v1/members', '/v1/nope']) {
      const r = await call('OPTIONS', path);
      expect(r.status, path).toBeGreaterThanOrEqual(200);
      expect(r.status, path).toBeLessThan(500);
      if (r.status >= 400) expect(r.json).toMatchObject({ statusCode: r.status, name: expect.any(String) });
    }
  });

  it('answers odd Authorization headers with 401 in Resend\'s shape', async () => {
    for (const authorization of ['', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', `Bearer ${'ms_'.padEnd(10_000, 'x')}`, `Bearer ${key} extra`, `bearer ${key.slice(0, -1)}`, "Bearer ms_' OR 1=1 --"]) {
      const r = await call('GET', '/v1/api-keys', { key: null, headers: { authorization } });
      expect(r.status, authorization.slice(0, 40)).toBe(401);
      expect(r.json).toMatchObject({ statusCode: 401, name: expect.stringMatching(/^(missing|invalid)_api_key$/) });
    }
    // The scheme is case-insensitive, as in RFC 9110 §11.1.
    expect((await call('GET', '/v1/api-keys', { key: null, headers: { authorization: `bearer ${key}` } })).status).toBe(200);
  });

  it('keeps working after all of the above', async () => {
    const r = await server.resend(key).apiKeys.create({ name: 'still fine' });
    expect(r.error).toBeNull();
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(statuses.length).toBeGreaterThan(50);
  });
});
