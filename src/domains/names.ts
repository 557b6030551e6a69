// Validation of the names a caller gives: the domain itself and the return-path label.
// A domain is an ASCII host name (RFC 1123 §2.1 letters, digits and hyphens; RFC 1035 §2.3.4
// lengths): at most 253 characters, labels of 1 to 63, at least two labels, and not an IP address.
// An internationalised name must be given in its A-label (xn--, RFC 5890) form.
import { invalid } from '../core/core.ts';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The canonical form of a domain name (lower case, no trailing dot), or a 422 CoreError. */
export function normalizeDomainName(raw: unknown, field = 'name'): string {
  if (typeof raw !== 'string') throw invalid(`The \`${field}\` field must be a string.`);
  let s = raw.trim();
  // Check for ASCII before lower-casing: some non-ASCII letters lower-case to ASCII ones
  // (U+212A KELVIN SIGN becomes "k"), which would let a look-alike name through.
  if (!/^[\x21-\x7e]*$/.test(s)) {
    throw invalid(`The \`${field}\` field must be an ASCII domain name; write an internationalised name in its xn-- (Punycode) form.`);
  }
  s = s.toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s.length === 0) throw invalid(`The \`${field}\` field must be a domain name such as example.com.`);
  if (s.length > 253) throw invalid(`The \`${field}\` field must be at most 253 characters.`);
  const labels = s.split('.');
  if (labels.length < 2) throw invalid(`The \`${field}\` field must be a domain name with at least two labels, such as example.com.`);
  for (const label of labels) {
    if (label.length === 0) throw invalid(`The \`${field}\` field must not hold an empty label (two dots in a row).`);
    if (label.length > 63) throw invalid(`The \`${field}\` field must not hold a label longer than 63 characters.`);
    if (!LABEL.test(label)) {
      throw invalid(`The \`${field}\` field may hold only letters, digits, hyphens and dots, and a label must not start or end with a hyphen.`);
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1])) throw invalid(`The \`${field}\` field must be a domain name, not an IP address.`);
  return s;
}

/** A single DNS label under the domain (the return-path or tracking host), lower-cased. */
export function normalizeLabel(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || !/^[\x21-\x7e]*$/.test(raw)) throw invalid(`The \`${field}\` field must be one DNS label such as "send".`);
  const s = raw.trim().toLowerCase();
  if (!LABEL.test(s)) {
    throw invalid(`The \`${field}\` field must be one DNS label of 1 to 63 letters, digits or hyphens (not at either end), such as "send".`);
  }
  return s;
}
