// The `mailstack` command against a real node: `mailstack start` runs as its own process on a test
// database, and every command here runs as another process on the same data while it serves, as an
// operator would run them. Results are checked over HTTP against that running node.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api as apiOnce, freePort, runCli, spawnCli } from '../testkit/server.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';

// Each CLI run starts Node and tsx afresh: slow on a busy machine, so tests get room.
const SLOW = 180_000;

let db: TestDatabase;
let env: Record<string, string>;
let server: ChildProcess;
let serverOutput = '';
let url: string;

/**
 * `api`, once more when a kept-alive connection turns out closed: CLI runs are slow here, and a
 * pause near the server's keep-alive timeout lets fetch reuse a socket the server is closing. The
 * request never reached the server then; a dead server still fails (connection refused).
 */
async function api(...args: Parameters<typeof apiOnce>) {
  try {
    return await apiOnce(...args);
  } catch (err) {
    if ((err as { cause?: { code?: string } }).cause?.code !== 'UND_ERR_SOCKET') throw err;
    return apiOnce(...args);
  }
}


async function waitForHealth(base: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`mailstack start exited with ${child.exitCode}:\n${output()}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`mailstack start did not become healthy in time:\n${output()}`);
}

/** Runs a command that should succeed and prints one JSON line; returns the parsed value. */
function cliJson(args: string[]): any {
  const r = runCli(args, env);
  expect(r.stderr, `stderr of mailstack ${args.join(' ')}`).toBe('');
  expect(r.code).toBe(0);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]);
}

/** Runs a command that should fail: exit 1 and one line on stderr, no stack trace. */
function cliFails(args: string[]): string {
  const r = runCli(args, env);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^mailstack: /);
  expect(r.stderr).not.toContain('    at ');
  return lines[0];
}

async function login(email: string, password: string) {
  const r = await api(url, 'POST', '/v1/auth/login', { body: { email, password } });
  const cookie = /mailstack_session=([^;]+)/.exec(r.headers.get('set-cookie') ?? '')?.[1];
  return { status: r.status, json: r.json, cookie: cookie ? `mailstack_session=${cookie}` : null };
}

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  env = {
    MAILSTACK_DATA_DIR: db.dataDir,
    MAILSTACK_DATABASE_URL: db.url,
    MAILSTACK_HOSTNAME: 'mailstack.test',
    MAILSTACK_LISTEN_ADDRESS: '127.0.0.1',
    MAILSTACK_HTTP_PORT: String(port),
    MAILSTACK_LOG_LEVEL: 'warn',
    MAILSTACK_WORKER_POLL: '100ms',
  };
  url = `http://127.0.0.1:${port}`;
  server = spawnCli(['start'], env);
  server.stdout!.on('data', (d) => (serverOutput += d));
  server.stderr!.on('data', (d) => (serverOutput += d));
  await waitForHealth(url, server, () => serverOutput);
}, SLOW);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  await db?.drop();
}, SLOW);

describe('mailstack setup', () => {
  it('prints one JSON line with a working full-access key, while the server runs on the same data', async () => {
    const out = cliJson(['setup', '--email', 'Owner@Example.com', '--workspace', 'Acme', '--password', 'long enough password']);
    expect(out).toMatchObject({ workspaceId: expect.any(String), userId: expect.any(String), apiKey: expect.stringMatching(/^ms_/) });

    // The running server accepts the key minted by another process.
    const keys = await api(url, 'GET', '/v1/api-keys', { key: out.apiKey });
    expect(keys.status).toBe(200);
    expect(keys.json.data.map((k: { name: string }) => k.name)).toContain('setup');
    const ws = await api(url, 'GET', '/v1/workspace', { key: out.apiKey });
    expect(ws.status).toBe(200);
    expect(ws.json.id).toBe(out.workspaceId);
    // Full access: it may manage keys.
    const made = await api(url, 'POST', '/v1/api-keys', { key: out.apiKey, body: { name: 'from setup key' } });
    expect(made.status).toBe(201);
    // The password was set: the owner can sign in.
    const session = await login('owner@example.com', 'long enough password');
    expect(session.status).toBe(200);
    expect(session.json.user.id).toBe(out.userId);
  }, SLOW);

  it('reuses the user and workspace on a second run, with a new key; both keys work', async () => {
    const first = cliJson(['setup', '--email', 'twice@example.com', '--workspace', 'Twice']);
    const second = cliJson(['setup', '--email', 'twice@example.com', '--workspace', 'Twice']);
    expect(second.userId).toBe(first.userId);
    expect(second.workspaceId).toBe(first.workspaceId);
    expect(second.apiKey).not.toBe(first.apiKey);
    for (const key of [first.apiKey, second.apiKey]) {
      const r = await api(url, 'GET', '/v1/workspace', { key });
      expect(r.status).toBe(200);
      expect(r.json.id).toBe(first.workspaceId);
    }
    // A different workspace name makes a second workspace for the same user.
    const other = cliJson(['setup', '--email', 'twice@example.com', '--workspace', 'Other']);
    expect(other.userId).toBe(first.userId);
    expect(other.workspaceId).not.toBe(first.workspaceId);
  }, SLOW);

  it('refuses a bad email with exit 1 and one line', () => {
    const line = cliFails(['setup', '--email', 'not-an-email', '--workspace', 'Acme']);
    expect(line).toContain('not a valid email address');
    // Even when the bad value itself holds a line break.
    expect(cliFails(['setup', '--email', 'two\nlines@example.com', '--workspace', 'Acme'])).toContain('not a valid email address');
  }, SLOW);
});

describe('user administration', () => {
  it('creates, lists, disables, enables and sets passwords, as the server sees it', async () => {
    const created = cliJson(['user', 'create', '--email', 'alice@example.com', '--password', 'first password', '--name', 'Alice']);
    expect(created).toEqual({ id: expect.any(String), email: 'alice@example.com', created: true });
    expect(cliFails(['user', 'create', '--email', 'ALICE@example.com'])).toContain('already exists');

    const listed = cliJson(['user', 'list']).find((u: { email: string }) => u.email === 'alice@example.com');
    expect(listed).toMatchObject({ id: created.id, name: 'Alice', has_password: true, disabled_at: null });

    const before = await login('alice@example.com', 'first password');
    expect(before.status).toBe(200);
    expect((await api(url, 'GET', '/v1/auth/session', { headers: { cookie: before.cookie! } })).status).toBe(200);

    expect(cliJson(['user', 'disable', '--email', 'alice@example.com'])).toEqual({ id: created.id, email: 'alice@example.com', disabled: true });
    expect(cliJson(['user', 'list']).find((u: { id: string }) => u.id === created.id).disabled_at).toEqual(expect.any(String));
    // Disabling ends the open session and refuses new sign-ins.
    expect((await api(url, 'GET', '/v1/auth/session', { headers: { cookie: before.cookie! } })).status).toBe(401);
    expect((await login('alice@example.com', 'first password')).status).toBe(401);

    expect(cliJson(['user', 'enable', '--email', 'alice@example.com'])).toEqual({ id: created.id, email: 'alice@example.com', disabled: false });
    expect((await login('alice@example.com', 'first password')).status).toBe(200);

    expect(cliJson(['user', 'set-password', '--email', 'alice@example.com', '--password', 'second password'])).toMatchObject({ id: created.id, has_password: true });
    expect((await login('alice@example.com', 'second password')).status).toBe(200);
    expect((await login('alice@example.com', 'first password')).status).toBe(401);

    expect(cliFails(['user', 'disable', '--email', 'nobody@example.com'])).toContain('not found');
  }, SLOW);
});

describe('workspace administration', () => {
  it('creates a workspace and adds, lists, re-roles and removes members', async () => {
    const ws = cliJson(['workspace', 'create', '--name', 'Ops', '--owner', 'ops-owner@example.com']);
    expect(ws).toEqual({ id: expect.any(String), name: 'Ops' });
    expect(cliJson(['workspace', 'list']).map((w: { id: string }) => w.id)).toContain(ws.id);

    const membersOf = () => cliJson(['workspace', 'members', '--workspace', ws.id]).map((m: { email: string; role: string }) => [m.email, m.role]);
    expect(membersOf()).toEqual([['ops-owner@example.com', 'owner']]);

    expect(cliJson(['workspace', 'add-member', '--workspace', ws.id, '--email', 'bob@example.com', '--role', 'viewer'])).toMatchObject({
      email: 'bob@example.com',
      role: 'viewer',
      added: true,
    });
    expect(membersOf()).toEqual(expect.arrayContaining([['ops-owner@example.com', 'owner'], ['bob@example.com', 'viewer']]));

    // Adding again with another role changes the role.
    expect(cliJson(['workspace', 'add-member', '--workspace', ws.id, '--email', 'bob@example.com', '--role', 'admin'])).toMatchObject({
      email: 'bob@example.com',
      role: 'admin',
    });
    expect(membersOf()).toEqual(expect.arrayContaining([['bob@example.com', 'admin']]));

    // The server sees the same membership: an owner's key lists Bob.
    const owner = cliJson(['setup', '--email', 'ops-owner@example.com', '--workspace', 'Ops']);
    expect(owner.workspaceId).toBe(ws.id);
    const viaApi = await api(url, 'GET', '/v1/members', { key: owner.apiKey });
    expect(viaApi.status).toBe(200);
    expect(JSON.stringify(viaApi.json)).toContain('bob@example.com');

    expect(cliJson(['workspace', 'remove-member', '--workspace', ws.id, '--email', 'bob@example.com'])).toMatchObject({ deleted: true });
    expect(membersOf()).toEqual([['ops-owner@example.com', 'owner']]);

    expect(cliFails(['workspace', 'add-member', '--workspace', ws.id, '--email', 'carol@example.com', '--role', 'god'])).toContain('role must be one of');
    expect(cliFails(['workspace', 'members', '--workspace', 'no-such-workspace'])).toContain('not found');
  }, SLOW);
});

describe('the server beside the commands', () => {
  it('kept serving through every command run on its data', async () => {
    expect(server.exitCode, serverOutput).toBeNull();
    const r = await api(url, 'GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ok' });
  });
});
