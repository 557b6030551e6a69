// Contact imports from CSV (Resend's contacts.imports.*; `mailstack contacts import`).
//
// Implementation notes:
// - The upload is streamed to a file under <data>/imports/ with a size cap
//   (MAILSTACK_IMPORT_MAX_BYTES) and never held whole in memory; the rows are then streamed through
//   csv-parse (RFC 4180 quoting, a BOM dropped, records bounded in size).
// - Before anything is written the file is checked: it must look like text (no NUL byte in its
//   first 64 KiB), its header must parse, it must have the email column (`email` or the column
//   map's), every mapped column must exist, and the segments and topics must exist. Otherwise 422,
//   and no row of contacts is touched.
// - Rows are applied in chunks of CHUNK, each in ONE transaction that also moves `processed` and
//   the counts: the import's row says exactly what has been applied. A job interrupted by a
//   restart runs again (its lease expires) and skips the `processed` rows, so it resumes without
//   applying a row twice. A file that turns out malformed further down fails the import with the
//   line and the number of rows that were applied.
// - A bad row (invalid address, a value of the wrong type, more cells than the header has
//   columns) is counted as failed with its line number and skipped; the first MAX_ERRORS are kept.
// - An import from a URL (`url` instead of a file) is fetched once, through the SSRF guard of
//   webhooks (events/address.ts: every address the host resolves to must be public unless
//   MAILSTACK_WEBHOOK_ALLOW_PRIVATE, and the connection goes only to the checked addresses), with
//   no redirects followed, a timeout, and the same size cap, into the same file an upload makes.
// - A cell is text and stays text: `=cmd|' /C calc'!A0` is stored as those characters, never
//   evaluated, and no formula prefix is added or removed here.
import { createReadStream, createWriteStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import type { Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { ContactImportsTable, ContactPropertiesTable } from '../db/schema.ts';
import type { Worker } from '../jobs/worker.ts';
import { TargetRefused, resolveTarget } from '../events/address.ts';
import {
  type ContactInput, checkSegmentsField, checkTopicsField, normaliseContactEmail, propertyDefinitions, requireSegments, requireTopics, writeContacts, MAX_NAME,
} from './contacts.ts';

export const IMPORT_JOB = 'campaigns.import';
const CHUNK = 500;
const MAX_ERRORS = 100;
const MAX_RECORD_BYTES = 64 * 1024;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface ImportOptions {
  column_map: { email: string; first_name?: string; last_name?: string; unsubscribed?: string; properties: Record<string, { column: string; type?: string }> } | null;
  on_conflict: 'upsert' | 'skip';
  segments: { id: string }[];
  topics: { id: string; subscription: 'opt_in' | 'opt_out' }[];
}

export class UploadTooLarge extends CoreError {
  constructor(max: number) {
    super(413, 'validation_error', `The file is larger than the ${max}-byte limit for an import (MAILSTACK_IMPORT_MAX_BYTES).`);
  }
}

function json(raw: unknown, field: string): unknown {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    throw invalid(`The \`${field}\` field must be JSON.`);
  }
}

/** The import's options from the form fields (strings holding JSON, as the SDK sends them). */
export function importOptionsOf(fields: Record<string, unknown>): ImportOptions {
  const map = json(fields.column_map, 'column_map') as any;
  let column_map: ImportOptions['column_map'] = null;
  if (map !== undefined) {
    if (!map || typeof map !== 'object' || Array.isArray(map)) throw invalid('The `column_map` field must be an object.');
    const col = (v: unknown, f: string) => {
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string' || !v.length || v.length > 200) throw invalid(`The \`column_map.${f}\` field must name a column.`);
      return v;
    };
    const properties: Record<string, { column: string; type?: string }> = {};
    if (map.properties !== undefined && map.properties !== null) {
      if (typeof map.properties !== 'object' || Array.isArray(map.properties) || Object.keys(map.properties).length > 100) throw invalid('The `column_map.properties` field must be an object of at most 100 property keys to { column, type }.');
      for (const [k, v] of Object.entries(map.properties as Record<string, any>)) {
        const column = col(v?.column, `properties.${k}.column`);
        if (!column) throw invalid(`The \`column_map.properties.${k}\` entry needs a \`column\`.`);
        if (v.type !== undefined && !['string', 'number', 'boolean'].includes(v.type)) throw invalid(`The \`column_map.properties.${k}.type\` must be string, number or boolean.`);
        properties[k] = { column, type: v.type };
      }
    }
    column_map = { email: col(map.email, 'email') ?? 'email', first_name: col(map.first_name, 'first_name'), last_name: col(map.last_name, 'last_name'), unsubscribed: col(map.unsubscribed, 'unsubscribed'), properties };
  }
  const on = fields.on_conflict ?? 'upsert';
  if (on !== 'upsert' && on !== 'skip') throw invalid('The `on_conflict` field must be `upsert` or `skip`.');
  return { column_map, on_conflict: on, segments: checkSegmentsField(json(fields.segments, 'segments')), topics: checkTopicsField(json(fields.topics, 'topics')) };
}

const importsDir = (core: Core) => path.join(core.settings.dataDir, 'imports');

/** Streams an upload to a new file under <data>/imports/, refusing it past the size cap. */
export async function receiveFile(core: Core, source: Readable, max = core.settings.importMaxBytes): Promise<string> {
  await mkdir(importsDir(core), { recursive: true, mode: 0o700 });
  const file = path.join(importsDir(core), `${newId(core.clock.now())}.csv`);
  let size = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > max) return cb(new UploadTooLarge(max));
      cb(null, chunk);
    },
  });
  try {
    await pipeline(source, limit, createWriteStream(`${file}.tmp`, { mode: 0o600 }));
    const fh = await open(`${file}.tmp`, 'r');
    await fh.sync();
    await fh.close();
    await rename(`${file}.tmp`, file);
  } catch (err) {
    await rm(`${file}.tmp`, { force: true });
    if (err instanceof CoreError) throw err;
    if ((err as any)?.code === 'FST_REQ_FILE_TOO_LARGE') throw new UploadTooLarge(max);
    throw err;
  }
  return file;
}

const FETCH_TIMEOUT_MS = 60_000;

/** Fetches the CSV at `raw` (http or https) through the SSRF guard into an import file. */
export async function fetchImportFile(core: Core, raw: unknown, max = core.settings.importMaxBytes): Promise<string> {
  let url: URL;
  try {
    if (typeof raw !== 'string' || raw.length > 2000) throw new Error();
    url = new URL(raw);
  } catch {
    throw invalid('The `url` field must be an http or https URL of at most 2000 characters.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('The `url` field must be an http or https URL.');
  if (url.username || url.password) throw invalid('The `url` must not contain a user name or password.');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let target;
  try {
    target = await resolveTarget(host, core.settings.webhookAllowPrivate, core.settings.dnsServers);
  } catch (err) {
    if (err instanceof TargetRefused) throw invalid(err.message.replace('webhooks may only be sent', 'imports may only be fetched from'));
    throw err;
  }
  const lookup = ((_h: string, o: { all?: boolean }, cb: (...a: any[]) => void) => (o?.all ? cb(null, target.addresses) : cb(null, target.addresses[0].address, target.addresses[0].family))) as LookupFunction;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(
      { method: 'GET', protocol: url.protocol, hostname: host, port: url.port || undefined, path: url.pathname + url.search, agent: false, lookup, servername: isIP(host) ? undefined : host, headers: { 'user-agent': 'Mailstack-Import/1', accept: 'text/csv, text/plain, */*' } },
      resolve,
    );
    req.setTimeout(FETCH_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${FETCH_TIMEOUT_MS / 1000}s`)));
    req.on('error', reject);
    req.end();
  }).catch((err: Error) => {
    throw invalid(`The import URL could not be fetched: ${err.message}.`);
  });
  if (res.statusCode !== 200) {
    res.resume();
    throw invalid(`The import URL answered ${res.statusCode}${res.statusCode && res.statusCode >= 300 && res.statusCode < 400 ? ' (a redirect: redirects are not followed; give the final URL)' : ''}, not 200.`);
  }
  const declared = Number(res.headers['content-length'] ?? 0);
  if (declared > max) {
    res.destroy();
    throw new UploadTooLarge(max);
  }
  return receiveFile(core, res, max);
}

function parser(fromLine = 1) {
  return parse({ bom: true, relax_column_count: true, skip_empty_lines: true, max_record_size: MAX_RECORD_BYTES, info: true, from_line: fromLine });
}

/** The mapping of the file's header: column indexes for each field, or a 422. */
interface Mapping {
  email: number;
  first_name: number;
  last_name: number;
  unsubscribed: number;
  properties: { key: string; index: number }[];
  columns: number;
}

function mappingOf(header: string[], opts: ImportOptions, defs: Map<string, ContactPropertiesTable>): Mapping {
  const find = (name: string | undefined, required: string | null) => {
    if (!name) return -1;
    const i = header.findIndex((h) => h.trim().toLowerCase() === name.trim().toLowerCase());
    if (i < 0 && required) throw invalid(required);
    return i;
  };
  const m = opts.column_map;
  const email = find(m?.email ?? 'email', `The file has no \`${m?.email ?? 'email'}\` column: every import needs a column of email addresses (name it in \`column_map.email\`).`);
  const properties: { key: string; index: number }[] = [];
  if (m) {
    for (const [key, p] of Object.entries(m.properties)) {
      if (!defs.has(key)) throw invalid(`Unknown contact property \`${key}\` in \`column_map.properties\`: create it with contactProperties.create first.`);
      properties.push({ key, index: find(p.column, `The file has no \`${p.column}\` column (mapped to property \`${key}\`).`) });
    }
  } else {
    // Without a map, a column named like a defined property fills it.
    for (const key of defs.keys()) {
      const i = find(key, null);
      if (i >= 0) properties.push({ key, index: i });
    }
  }
  const named = (f: 'first_name' | 'last_name' | 'unsubscribed') => (m ? find(m[f], m[f] ? `The file has no \`${m[f]}\` column (mapped to \`${f}\`).` : null) : find(f, null));
  return { email, first_name: named('first_name'), last_name: named('last_name'), unsubscribed: named('unsubscribed'), properties, columns: header.length };
}

/** The first record of the file (its header), or a 422 saying it is not CSV. */
async function readHeader(file: string): Promise<string[]> {
  const fh = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, 0);
    if (bytesRead === 0) throw invalid('The file is empty: a CSV import needs a header row and at least the email column.');
    if (buffer.subarray(0, bytesRead).includes(0)) throw invalid('The file is not CSV text (it holds NUL bytes).');
  } finally {
    await fh.close();
  }
  const p = createReadStream(file).pipe(parser());
  try {
    for await (const { record } of p as AsyncIterable<{ record: string[] }>) return record;
  } catch (err) {
    throw invalid(`The file is not valid CSV: ${(err as Error).message.slice(0, 200)}`);
  } finally {
    p.destroy();
  }
  throw invalid('The file has no header row.');
}

export function importJson(r: ContactImportsTable) {
  return {
    object: 'contact_import' as const, id: r.id, status: r.status, created_at: iso(r.created_at)!, completed_at: iso(r.completed_at),
    counts: { total: r.total, created: r.created, updated: r.updated, skipped: r.skipped, failed: r.failed },
    rows_done: r.processed, errors: JSON.parse(r.errors_json) as { line: number; email: string | null; message: string }[], failure: r.failure,
  };
}

/** Checks a received file and its options, then records the import and queues its job. */
export async function createImport(core: Core, workspaceId: string, file: string, opts: ImportOptions, enqueue = true): Promise<string> {
  try {
    const header = await readHeader(file);
    await requireSegments(core.db, workspaceId, opts.segments.map((s) => s.id));
    await requireTopics(core.db, workspaceId, opts.topics.map((t) => t.id));
    mappingOf(header, opts, await propertyDefinitions(core.db, workspaceId));
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
  const now = core.clock.now();
  const id = newId(now);
  await core.store.transaction(async (tx) => {
    await tx.insertInto('contact_imports').values({ id, workspace_id: workspaceId, status: 'queued', file_path: path.basename(file), options_json: JSON.stringify(opts), total: 0, processed: 0, created: 0, updated: 0, skipped: 0, failed: 0, errors_json: '[]', failure: null, created_at: now, updated_at: now, completed_at: null }).execute();
    if (enqueue) await core.jobs.enqueue(IMPORT_JOB, { importId: id }, { uniqueKey: `import:${id}`, maxAttempts: 20 }, tx);
  });
  return id;
}

export async function getImport(core: Core, workspaceId: string, id: string) {
  const r = isUuid(id) ? await core.db.selectFrom('contact_imports').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id.toLowerCase()).executeTakeFirst() : undefined;
  if (!r) throw notFound('Contact import');
  return importJson(r);
}

export async function listImports(core: Core, workspaceId: string, page: PageRequest & { status?: string }) {
  let q = core.db.selectFrom('contact_imports').selectAll().where('workspace_id', '=', workspaceId);
  if (page.status !== undefined) {
    if (!['queued', 'in_progress', 'completed', 'failed'].includes(page.status)) throw invalid('The `status` filter must be queued, in_progress, completed or failed.');
    q = q.where('status', '=', page.status as ContactImportsTable['status']);
  }
  const { rows, has_more } = await paginate(q, 'id', page);
  return { object: 'list' as const, has_more, data: rows.map(importJson) };
}

/** One CSV row to a contact, or the reason it is refused. */
function rowToContact(cells: string[], m: Mapping, opts: ImportOptions, defs: Map<string, ContactPropertiesTable>): ContactInput | string {
  if (cells.length > m.columns) return `the row has ${cells.length} cells but the header names ${m.columns} columns (unknown column ${m.columns + 1})`;
  const cell = (i: number) => (i >= 0 && i < cells.length ? cells[i].trim() : '');
  const email = normaliseContactEmail(cell(m.email));
  if (!email) return cell(m.email) ? `${JSON.stringify(cell(m.email).slice(0, 100))} is not an email address` : 'the email cell is empty';
  const name = (i: number, f: string): string | undefined | Error => {
    const v = cell(i);
    if (!v) return undefined;
    if (v.length > MAX_NAME) return new Error(`${f} is longer than ${MAX_NAME} characters`);
    return v;
  };
  const first = name(m.first_name, 'first_name');
  const last = name(m.last_name, 'last_name');
  if (first instanceof Error) return first.message;
  if (last instanceof Error) return last.message;
  let unsubscribed: boolean | undefined;
  const u = cell(m.unsubscribed).toLowerCase();
  if (u) {
    if (['true', '1', 'yes'].includes(u)) unsubscribed = true;
    else if (['false', '0', 'no'].includes(u)) unsubscribed = false;
    else return `unsubscribed must be true or false, not ${JSON.stringify(u.slice(0, 20))}`;
  }
  const properties: Record<string, string | number> = {};
  for (const p of m.properties) {
    const v = cell(p.index);
    if (!v) continue;
    const def = defs.get(p.key)!;
    if (def.type === 'number') {
      const n = Number(v);
      if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v) || !Number.isFinite(n)) return `property \`${p.key}\` is a number; ${JSON.stringify(v.slice(0, 40))} is not`;
      properties[p.key] = n;
    } else {
      if (v.length > 2000) return `property \`${p.key}\` is longer than 2000 characters`;
      properties[p.key] = v;
    }
  }
  return { email, firstName: first, lastName: last, unsubscribed, properties, segments: opts.segments, topics: opts.topics };
}

/**
 * Runs (or resumes) an import to its end. `onProgress` is told after each committed chunk; a
 * `signal` stops between chunks (the CLI's Ctrl-C), leaving the import resumable.
 */
export async function runImport(core: Core, importId: string, hooks: { onProgress?: (r: ContactImportsTable) => void; signal?: AbortSignal } = {}): Promise<ContactImportsTable> {
  let r = await core.db.selectFrom('contact_imports').selectAll().where('id', '=', importId).executeTakeFirstOrThrow();
  if (r.status === 'completed' || r.status === 'failed') return r;
  const file = path.join(importsDir(core), path.basename(r.file_path));
  const opts = JSON.parse(r.options_json) as ImportOptions;
  const fail = async (failure: string) => {
    const now = core.clock.now();
    await core.db.updateTable('contact_imports').set({ status: 'failed', failure, updated_at: now, completed_at: now }).where('id', '=', r.id).execute();
    await rm(file, { force: true });
    return core.db.selectFrom('contact_imports').selectAll().where('id', '=', importId).executeTakeFirstOrThrow();
  };
  try {
    if (r.status === 'queued') {
      // Counting pass, so `get` can show rows done of total while it runs.
      let total = -1;
      for await (const _ of createReadStream(file).pipe(parser()) as AsyncIterable<unknown>) total++;
      await core.db.updateTable('contact_imports').set({ status: 'in_progress', total: Math.max(0, total), updated_at: core.clock.now() }).where('id', '=', r.id).execute();
      r = { ...r, status: 'in_progress', total: Math.max(0, total) };
      hooks.onProgress?.(r);
    }
  } catch (err) {
    return fail(`The file is not valid CSV: ${(err as Error).message.slice(0, 300)}. No row was applied.`);
  }

  const defs = await propertyDefinitions(core.db, r.workspace_id);
  let mapping: Mapping | null = null;
  let seen = 0;
  let chunk: { line: number; cells: string[] }[] = [];
  const flush = async () => {
    const rows = chunk;
    chunk = [];
    r = await core.store.transaction(async (tx) => {
      const cur = await tx.selectFrom('contact_imports').selectAll().where('id', '=', importId).executeTakeFirstOrThrow();
      const counts = { created: cur.created, updated: cur.updated, skipped: cur.skipped, failed: cur.failed };
      const errors = JSON.parse(cur.errors_json) as { line: number; email: string | null; message: string }[];
      const good: ContactInput[] = [];
      for (const row of rows) {
        const input = rowToContact(row.cells, mapping!, opts, defs);
        if (typeof input === 'string') {
          counts.failed++;
          if (errors.length < MAX_ERRORS) errors.push({ line: row.line, email: row.cells[mapping!.email]?.slice(0, 320) ?? null, message: input });
          continue;
        }
        good.push(input);
      }
      // Rows are checked above (types, lengths), so writing them refuses nothing the row check passed.
      for (const outcome of await writeContacts(core, tx, r.workspace_id, good, defs, opts.on_conflict)) counts[outcome]++;
      const next = { ...counts, processed: cur.processed + rows.length, errors_json: JSON.stringify(errors), updated_at: core.clock.now() };
      await tx.updateTable('contact_imports').set(next).where('id', '=', importId).execute();
      return { ...cur, ...next };
    });
    hooks.onProgress?.(r);
  };
  try {
    // Line numbers are counted here: csv-parse's `info.lines` counts a CRLF inside quotes twice.
    let line = 1;
    let empty = 0;
    for await (const { record, info } of createReadStream(file).pipe(parser()) as AsyncIterable<{ record: string[]; info: { empty_lines: number } }>) {
      const start = line + (info.empty_lines - empty);
      empty = info.empty_lines;
      line = start + 1 + record.reduce((n, cell) => n + (cell.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
      if (!mapping) {
        mapping = mappingOf(record, opts, defs);
        continue;
      }
      // Rows already applied by an earlier run of this import.
      if (seen++ < r.processed) continue;
      chunk.push({ line: start, cells: record });
      if (chunk.length >= CHUNK) {
        await flush();
        if (hooks.signal?.aborted) return r;
      }
    }
    if (chunk.length) await flush();
  } catch (err) {
    if (err instanceof CoreError && err.status < 500 && !mapping) return fail(err.message);
    if ((err as any)?.code?.startsWith?.('CSV_')) return fail(`The file stops being valid CSV after ${r.processed} rows were applied: ${(err as Error).message.slice(0, 300)}`);
    throw err;
  }
  const now = core.clock.now();
  await core.db.updateTable('contact_imports').set({ status: 'completed', updated_at: now, completed_at: now }).where('id', '=', r.id).execute();
  await rm(file, { force: true });
  return core.db.selectFrom('contact_imports').selectAll().where('id', '=', importId).executeTakeFirstOrThrow();
}

export function registerImportJobs(core: Core, worker: Worker): void {
  worker.handle(IMPORT_JOB, async ({ importId }: { importId: string }) => {
    await runImport(core, importId);
  });
}
