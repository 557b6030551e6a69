// `npm test`: the whole suite on SQLite, and on PostgreSQL when MAILSTACK_TEST_DATABASE_URL is set.
import { spawnSync } from 'node:child_process';

if (!process.env.MAILSTACK_TEST_DATABASE_URL) {
  console.log('PostgreSQL run skipped: MAILSTACK_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test). Running on SQLite only.');
} else {
  console.log(`Running the suite on SQLite and on PostgreSQL (${process.env.MAILSTACK_TEST_DATABASE_URL.replace(/\/\/[^@]*@/, '//***@')}).`);
}
const r = spawnSync('npx', ['vitest', 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
