// The template language of templates and broadcasts: Resend's triple braces, `{{{NAME}}}` or
// `{{{NAME|fallback}}}`, and nothing else (no logic, no code: a template can only substitute).
//
// Implementation notes:
// - parseTemplate() never throws on any input: text that is not a well-formed placeholder (an
//   unterminated `{{{`, a name with other characters, a fallback holding braces) stays literal text.
// - In HTML every substituted value is escaped (& < > " '), so a value can never open a tag, an
//   attribute or a script; in text it is inserted as is. A fallback written in the template is the
//   author's own text and is escaped the same way (it came from the template, but it is a value).
// - Header lines (subject) are rendered as text; the send path refuses CR or LF in the result, so a
//   value cannot inject a header.
// - A placeholder without a value and without a fallback is reported by name (missing) so that a
//   send can answer 422 naming it; broadcasts render it as empty instead (Resend's behaviour).

export type Part = { text: string } | { name: string; fallback: string | null };

const NAME = /^[A-Za-z_][A-Za-z0-9_.]{0,99}$/;
export const MAX_TEMPLATE_CHARS = 1_000_000;

export function parseTemplate(src: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  let text = '';
  while (i < src.length) {
    const open = src.indexOf('{{{', i);
    if (open < 0) break;
    const close = src.indexOf('}}}', open + 3);
    if (close < 0) break;
    const inner = src.slice(open + 3, close);
    const bar = inner.indexOf('|');
    const name = (bar < 0 ? inner : inner.slice(0, bar)).trim();
    const fallback = bar < 0 ? null : inner.slice(bar + 1);
    if (NAME.test(name) && !/[{}]/.test(inner) && (fallback === null || fallback.length <= 1000)) {
      text += src.slice(i, open);
      if (text) parts.push({ text });
      text = '';
      parts.push({ name, fallback });
      i = close + 3;
    } else {
      // Not a placeholder: keep the first brace as text and look again just after it.
      text += src.slice(i, open + 1);
      i = open + 1;
    }
  }
  text += src.slice(i);
  if (text) parts.push({ text });
  return parts;
}

/** The placeholder names a template uses, in order, each once. */
export function placeholders(src: string): string[] {
  return [...new Set(parseTemplate(src).flatMap((p) => ('name' in p ? [p.name] : [])))];
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface RenderResult {
  out: string;
  /** Placeholders with neither a value nor a fallback. */
  missing: string[];
}

/** Renders `src`; `lookup` gives a value or undefined. */
export function render(src: string, lookup: (name: string) => string | number | null | undefined, mode: 'html' | 'text'): RenderResult {
  const missing: string[] = [];
  let out = '';
  for (const p of parseTemplate(src)) {
    if ('text' in p) {
      out += p.text;
      continue;
    }
    const v = lookup(p.name);
    let value: string;
    if (v !== undefined && v !== null) value = String(v);
    else if (p.fallback !== null) value = p.fallback;
    else {
      if (!missing.includes(p.name)) missing.push(p.name);
      value = '';
    }
    out += mode === 'html' ? escapeHtml(value) : value;
  }
  return { out, missing };
}
