// Plain text for the search index, snippets and thread subjects. Pure functions over text that
// comes from the outside (message bodies and subjects), so each one is linear in its input and
// bounded: no regular expression here can backtrack over unbounded input.

/** Most characters of body text indexed per message (PostgreSQL's tsvector is limited to 1 MB). */
export const MAX_INDEXED_CHARS = 200_000;
const SNIPPET_CHARS = 200;

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', copy: '©', reg: '®', hellip: '…', mdash: '—', ndash: '–', rsquo: '’', lsquo: '‘', rdquo: '”', ldquo: '“', euro: '€' };

function decodeEntities(s: string): string {
  return s.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});/g, (m, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : ' ';
    }
    return NAMED[body.toLowerCase()] ?? m;
  });
}

const SKIP = new Set(['script', 'style', 'head', 'noscript', 'template', 'svg', 'object']);
const BLOCK = new Set(['p', 'div', 'br', 'li', 'tr', 'td', 'th', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'blockquote', 'pre', 'hr', 'ul', 'ol', 'section', 'article', 'header', 'footer', 'title']);

/** HTML → readable text: tags dropped, script/style skipped, blocks on their own lines, entities decoded. */
export function htmlToText(html: string): string {
  const out: string[] = [];
  const n = html.length;
  let i = 0;
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      out.push(html.slice(i));
      break;
    }
    if (lt > i) out.push(html.slice(i, lt));
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end < 0 ? n : end + 3;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) break; // an unclosed tag: the rest is markup, not text
    const name = /^<\/?\s*([a-zA-Z][a-zA-Z0-9]{0,15})/.exec(html.slice(lt, Math.min(gt + 1, lt + 20)))?.[1]?.toLowerCase();
    i = gt + 1;
    if (!name) continue;
    const closing = html[lt + 1] === '/';
    if (!closing && SKIP.has(name) && html[gt - 1] !== '/') {
      const close = new RegExp(`</\\s*${name}\\s*>`, 'gi');
      close.lastIndex = i;
      const m = close.exec(html);
      i = m ? m.index + m[0].length : n;
      continue;
    }
    if (BLOCK.has(name)) out.push('\n');
    else out.push(' ');
  }
  return tidy(decodeEntities(out.join('')));
}

/** Trims each line, collapses runs of spaces and of blank lines. */
export function tidy(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t\f\v\u00a0]+/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** The body text a message is indexed and previewed by: its text part, else its HTML as text. */
export function bodyText(parsed: { text: string | null; html: string | null }): string {
  const raw = parsed.text?.trim() ? parsed.text : parsed.html ? htmlToText(parsed.html.slice(0, MAX_INDEXED_CHARS * 4)) : '';
  return raw.replace(/\u0000/g, '').slice(0, MAX_INDEXED_CHARS);
}

/** A one-line preview: quoted lines (starting with '>') left out, whitespace collapsed. */
export function snippetOf(body: string): string | null {
  const lines = body.slice(0, SNIPPET_CHARS * 20).split('\n').filter((l) => !l.trimStart().startsWith('>'));
  const s = lines.join(' ').replace(/\s+/g, ' ').trim();
  if (!s) return null;
  return s.length > SNIPPET_CHARS ? `${s.slice(0, SNIPPET_CHARS - 1)}…` : s;
}

// Reply and forward prefixes in the languages mail clients commonly write them in, with an
// optional counter ("Re[2]:"), and list tags such as "[team]".
const PREFIX = /^(?:(?:re|fwd?|aw|sv|vs|wg|antw|antwort|rif|tr|rv|ref|odp|vl|fs)\s*(?:\[\d{1,4}\]|\(\d{1,4}\))?\s*[:：]|\[[^\][]{0,200}\])\s*/i;

/** The subject threads are grouped by: reply/forward prefixes and [tags] stripped, lower-cased, spaces collapsed. */
export function normalizeSubject(subject: string | null | undefined): string {
  let s = (subject ?? '').slice(0, 2000).replace(/\s+/g, ' ').trim();
  for (let guard = 0; guard < 100; guard++) {
    const m = PREFIX.exec(s);
    if (!m || m[0].length === 0) break;
    s = s.slice(m[0].length);
  }
  s = s.replace(/\s*\((?:fwd|fw)\)\s*$/i, '');
  return s.trim().toLowerCase();
}
