// CSV export of a workspace's contacts (GET /v1/contacts/export).
//
// Implementation notes:
// - Streamed: contacts are read in pages of PAGE by id and written as they come, so a million
//   contacts never sit in memory at once.
// - RFC 4180: every cell is quoted when it holds a comma, a quote, CR or LF (quotes doubled);
//   lines end in CRLF; a header line names the columns (the fixed ones, then each property key).
// - Formula injection (OWASP "CSV Injection"): a cell that a spreadsheet would evaluate, one that
//   starts with `=`, `+`, `-`, `@`, a tab or CR, is written with a leading `'`, so
//   `=cmd|' /C calc'!A0` opens as text. Numbers stored as numbers are written bare (a negative
//   number stays a number).
import type { Core } from '../core/core.ts';
import { propertyDefinitions } from './contacts.ts';
import { findSegment } from './audience.ts';
import { notFound } from '../core/core.ts';

const PAGE = 1000;

/** One CSV cell, quoted as RFC 4180 wants and defused against formula evaluation. */
export function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  let s = v;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

const line = (cells: (string | number | boolean | null | undefined)[]) => `${cells.map(csvCell).join(',')}\r\n`;

/** The CSV, line by line; `segmentId` limits it to one segment (checked before the first line). */
export async function contactsCsv(core: Core, workspaceId: string, segmentId?: string): Promise<AsyncGenerator<string>> {
  let segment: string | null = null;
  if (segmentId) {
    const s = await findSegment(core.db, workspaceId, segmentId);
    if (!s) throw notFound('Segment');
    segment = s.id;
  }
  const defs = [...(await propertyDefinitions(core.db, workspaceId)).values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  return lines(core, workspaceId, segment, defs);
}

async function* lines(core: Core, workspaceId: string, segment: string | null, defs: { key: string; fallback_json: string | null }[]): AsyncGenerator<string> {
  yield line(['id', 'email', 'first_name', 'last_name', 'unsubscribed', 'created_at', ...defs.map((d) => d.key)]);
  let after = '';
  for (;;) {
    let q = core.db.selectFrom('contacts').selectAll('contacts').where('contacts.workspace_id', '=', workspaceId).where('contacts.id', '>', after);
    if (segment) q = q.innerJoin('contact_segments', 'contact_segments.contact_id', 'contacts.id').where('contact_segments.segment_id', '=', segment);
    const rows = await q.orderBy('contacts.id', 'asc').limit(PAGE).execute();
    let out = '';
    for (const c of rows) {
      const props = JSON.parse(c.properties_json) as Record<string, string | number>;
      out += line([c.id, c.email, c.first_name, c.last_name, c.unsubscribed === 1, new Date(c.created_at).toISOString(), ...defs.map((d) => props[d.key] ?? (d.fallback_json === null ? null : JSON.parse(d.fallback_json)))]);
    }
    if (out) yield out;
    if (rows.length < PAGE) return;
    after = rows.at(-1)!.id;
  }
}
