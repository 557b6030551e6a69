// One core per test file, for tests of core services (no doors, no worker): opened in beforeAll,
// closed (and its database dropped) in afterAll. Usage:
//
//   let core: Core;
//   useTestCore((c) => { core = c; });
//
// The callback may be async and do the file's own setup on the fresh core.
import { afterAll, beforeAll } from 'vitest';
import type { Clock } from '../core/clock.ts';
import type { Core } from '../core/core.ts';
import { type TestCore, openTestCore } from './mailbox.ts';

export function useTestCore(onOpen: (core: Core) => void | Promise<void>, opts: { clock?: Clock; env?: Record<string, string> } = {}): void {
  let t: TestCore | undefined;
  beforeAll(async () => {
    t = await openTestCore(opts);
    await onOpen(t.core);
  });
  afterAll(async () => {
    await t?.close();
  });
}
