// The shape of the code, checked: test helpers live in one place that production code never
// imports, and no two modules import each other (directly or around a loop). Both rules come from
// PRODUCT.md; this test is what keeps them true as the tree grows.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = dirname(fileURLToPath(import.meta.url));
const TESTKIT = join(SRC, 'testkit');

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.tsx?$/.test(name)) out.push(p);
  }
  return out;
}

const files = walk(SRC);
const isTest = (f: string) => /\.test\.tsx?$/.test(f);
const inTestkit = (f: string) => f.startsWith(TESTKIT + '/');

/** Relative imports of a file (static `import`/`export … from` and dynamic `import()`), resolved. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
    found.push(resolve(dirname(file), m[1] ?? m[2]));
  }
  return found;
}

describe('the shape of the code', () => {
  it('keeps every test helper under src/testkit/, and production code never imports one', () => {
    const misplaced = files.filter((f) => !inTestkit(f) && !isTest(f) && /(^|\/)(test-[^/]*|[^/]*testkit[^/]*)\.ts$|\/testdata\//.test(f));
    expect(misplaced.map((f) => relative(SRC, f))).toEqual([]);
    const offenders: string[] = [];
    for (const f of files) {
      if (isTest(f) || inTestkit(f)) continue;
      for (const target of importsOf(f)) if (target.startsWith(TESTKIT + '/')) offenders.push(`${relative(SRC, f)} → ${relative(SRC, target)}`);
      if (/from\s*['"]vitest['"]/.test(readFileSync(f, 'utf8'))) offenders.push(`${relative(SRC, f)} → vitest`);
    }
    expect(offenders).toEqual([]);
  });

  it('has no import cycles (type-only imports count too)', () => {
    const graph = new Map<string, string[]>();
    for (const f of files) if (!isTest(f)) graph.set(f, importsOf(f).filter((t) => graph.has(t) || files.includes(t)));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const t of graph.get(f) ?? []) {
        if (!graph.has(t)) continue;
        if (state.get(t) === 'open') cycles.push(stack.slice(stack.indexOf(t)).concat(t).map((x) => relative(SRC, x)).join(' → '));
        else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of graph.keys()) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
