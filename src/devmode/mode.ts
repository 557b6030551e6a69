// Which mode a store was used in. A development node verifies domains without DNS and captures
// mail instead of sending it, so a store it has used holds "verified" domains nobody proved: a
// production node must never send from them. The first development start marks the store
// (`instance_flags.mode = development`); a production start on a marked store stops with a
// message naming what is half-applied and how to get out of it.
import type { Settings } from '../config/settings.ts';
import type { Core } from '../core/core.ts';

export class ModeMismatch extends Error {
  override name = 'ModeMismatch';
}

/** The development settings a production start must not meet, each with its remedy (empty: fine). */
export async function halfAppliedDevelopment(core: Core): Promise<string[]> {
  if (core.settings.mode === 'development') return [];
  const problems: string[] = [];
  const mark = await core.db.selectFrom('instance_flags').select(['value', 'created_at']).where('name', '=', 'mode').executeTakeFirst();
  if (mark?.value === 'development') {
    problems.push(
      `the store ${describeStore(core.settings)} was used by a development-mode node since ${new Date(mark.created_at).toISOString()} ` +
        '(its domains were verified without DNS and its mail was captured, not sent): start it with MAILSTACK_MODE=development (or `mailstack dev`), ' +
        'or point MAILSTACK_DATA_DIR / MAILSTACK_DATABASE_URL at a store of its own',
    );
  }
  if (core.settings.nodeEnv === 'development') {
    problems.push('NODE_ENV=development is set but MAILSTACK_MODE is not: set MAILSTACK_MODE=development for development mode, or unset NODE_ENV');
  }
  return problems;
}

/** Throws ModeMismatch for a production start on development settings; marks a development store. */
export async function checkMode(core: Core): Promise<void> {
  const problems = await halfAppliedDevelopment(core);
  if (problems.length) {
    throw new ModeMismatch(`production mode refuses to start with development settings half-applied: ${problems.join('; ')}`);
  }
  if (core.settings.mode === 'development') {
    await core.db
      .insertInto('instance_flags')
      .values({ name: 'mode', value: 'development', created_at: core.clock.now() })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value: 'development' }))
      .execute();
  }
}

function describeStore(s: Settings): string {
  return s.store === 'sqlite' ? s.databaseUrl.replace(/^sqlite:/, '') : s.databaseUrl.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
