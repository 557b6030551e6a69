// Production mode (the default) refuses to start with development settings half-applied, and says
// which: a store a development node has used, or NODE_ENV=development without MAILSTACK_MODE.
import { afterAll, describe, expect, it } from 'vitest';
import { api, runCli, startTestServer } from '../testkit/server.ts';
import { createTestDatabase, type TestDatabase } from '../testkit/store.ts';

const dbs: TestDatabase[] = [];
afterAll(async () => {
  for (const db of dbs) await db.drop();
});

describe('production and development modes', () => {
  it('a production node refuses a store a development node has used, naming it and the way out', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const dev = await startTestServer({ db, env: { MAILSTACK_MODE: 'development' } });
    await dev.stop();
    // Through the CLI, as an operator meets it: exit 1 and one line saying what and how.
    const env = { MAILSTACK_DATA_DIR: db.dataDir, MAILSTACK_DATABASE_URL: db.url, MAILSTACK_HOSTNAME: 'mailstack.test', MAILSTACK_LISTEN_ADDRESS: '127.0.0.1', MAILSTACK_HTTP_PORT: '0', MAILSTACK_SMTP_PORT: '0', MAILSTACK_SUBMISSION_PORT: '0', MAILSTACK_SUBMISSIONS_PORT: '0', MAILSTACK_IMAP_PORT: '0', MAILSTACK_IMAPS_PORT: '0', MAILSTACK_POP3_PORT: '0', MAILSTACK_POP3S_PORT: '0', MAILSTACK_LOG_FORMAT: 'json' };
    const r = runCli(['start'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/production mode refuses to start with development settings half-applied/);
    expect(r.stderr).toMatch(/used by a development-mode node/);
    expect(r.stderr).toContain('MAILSTACK_MODE=development');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // The same store still starts in development mode.
    const again = await startTestServer({ db, env: { MAILSTACK_MODE: 'development' } });
    await again.stop();
  });

  it('a production start with NODE_ENV=development but no MAILSTACK_MODE says which setting is missing', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    await expect(startTestServer({ db, env: { NODE_ENV: 'development' } })).rejects.toThrow(/NODE_ENV=development is set but MAILSTACK_MODE is not/);
  });

  it('in production, captured mail does not exist and the answer says why', async () => {
    const server = await startTestServer();
    try {
      const { apiKey } = await server.setup('prod@example.com', 'Prod');
      const r = await api(server.url, 'GET', '/v1/captured', { key: apiKey });
      expect(r.status).toBe(404);
      expect(r.json).toMatchObject({ statusCode: 404, name: 'not_found' });
      expect(r.json.message).toMatch(/only in development mode/);
    } finally {
      await server.stop();
    }
  });
});
