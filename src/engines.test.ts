// The Node versions the project names (package.json `engines`, the README, CI) are ones every
// installed package supports, so `npm install` never warns EBADENGINE (and, with .npmrc's
// engine-strict, never fails) on them.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { ROOT } from './testkit/server.ts';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
const ours: string = pkg.engines.node;

/** Packages of the lockfile that npm installs here and that declare a Node range. */
function declared(): { name: string; range: string }[] {
  return Object.entries(lock.packages as Record<string, { engines?: { node?: string }; optional?: boolean }>)
    .filter(([key, p]) => key !== '' && typeof p.engines?.node === 'string')
    // Optional packages npm skipped here (platform binaries for other systems) are not checked.
    .filter(([key, p]) => !p.optional || existsSync(path.join(ROOT, key)))
    .map(([key, p]) => ({ name: key.replace(/^.*node_modules\//, ''), range: p.engines!.node! }));
}

describe('Node versions', () => {
  it('the lowest Node of package.json engines, the first of Node 22 it names, and this Node satisfy every package', () => {
    const lowest = semver.minVersion(ours)!.version;
    const first22 = Array.from({ length: 40 }, (_, minor) => `22.${minor}.0`).find((v) => semver.satisfies(v, ours));
    const versions = [lowest, ...(first22 ? [first22] : []), process.versions.node];
    expect(semver.satisfies(process.versions.node, ours)).toBe(true);
    const unsupported = declared().flatMap(({ name, range }) => versions.filter((v) => semver.satisfies(v, ours) && !semver.satisfies(v, range)).map((v) => `${name} wants ${range}, not ${v}`));
    expect(unsupported).toEqual([]);
    expect(declared().length).toBeGreaterThan(10);
  });

  it('the README names the same lowest Node as engines, and npm refuses other engines', () => {
    const lowest = semver.minVersion(ours)!;
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`Node.js ${lowest.major}.${lowest.minor}`);
    expect(readFileSync(path.join(ROOT, '.npmrc'), 'utf8')).toMatch(/^engine-strict=true$/m);
    expect(readFileSync(path.join(ROOT, '.ci/run'), 'utf8')).toContain('engine-strict');
  });
});
