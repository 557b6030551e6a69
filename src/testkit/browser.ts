// For the browser tests: the web app built once (several test processes may ask at once, so a
// lock folder serialises the build) and Debian's Chromium driven by playwright-core.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.ts';
import { ROOT } from './server.ts';

export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

/** Builds web/dist unless it is newer than every source file of the app and the routes. */
export async function ensureWebBuilt(): Promise<void> {
  const index = path.join(ROOT, 'web/dist/index.html');
  const fresh = () => existsSync(index) && statSync(index).mtimeMs > Math.max(newest(path.join(ROOT, 'web/src')) - 1, newest(path.join(ROOT, 'src/http/routes')));
  const lock = path.join(ROOT, '.tmp/web-build.lock');
  mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than two minutes belongs to a build that died.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for another web build');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (!fresh()) await buildWeb({ quiet: true });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}
