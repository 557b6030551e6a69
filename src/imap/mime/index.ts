// The IMAP message-structure toolkit: pure functions over a stored message's bytes (no database,
// no sockets) that the IMAP server uses to answer FETCH and SEARCH.
//
//   const root = indexMime(raw);                          // once per message: byte offsets of every part
//   serialize(envelope(root, raw));                        // ENVELOPE
//   serialize(bodyStructure(root, raw, true));             // BODYSTRUCTURE (false: BODY)
//   const spec = parseSection('1.2.HEADER.FIELDS (From To)');  // null when malformed → BAD
//   const bytes = partial(section(raw, root, spec!), 0, 100);  // BODY[1.2.HEADER.FIELDS (From To)]<0.100>
//   binarySection(raw, root, [1])                          // BINARY[1]: { ok, data } | { ok: false, code: 'UNKNOWN-CTE' }
//   headerField(root, raw, 'subject')                      // decoded values for SEARCH HEADER/SUBJECT/FROM
//   messageDate(root, raw)                                  // Date header in epoch ms for SENTBEFORE etc.
//   normalizeCrlf(raw)                                      // bare CR/LF → CRLF, for APPEND/import
//
// Serialising: serialize()/serializeItems() write ImapValue (null = NIL, number, string/Buffer =
// quoted or literal as needed, atom(), literal(), literal8(), arrays = lists). A literal never
// carries NUL (sent as 0x80, as Dovecot does); literal8 does (BINARY).
//
// Implementation notes: see each module. Everything here is total: hostile bytes never throw, every
// returned Buffer is a slice of (or decoded from) a range inside `raw`.
export type { MimeNode } from './index-mime.ts';
export { indexMime, findPart, MAX_DEPTH, MAX_PARTS } from './index-mime.ts';
export { envelope } from './envelope.ts';
export { bodyStructure } from './bodystructure.ts';
export type { SectionSpec, SectionText } from './section.ts';
export { parseSection, section, partial, sectionName } from './section.ts';
export type { BinaryResult } from './binary.ts';
export { binarySection, binarySize } from './binary.ts';
export { headerField, headerFieldsRaw, messageDate } from './headers.ts';
export { decodeWords, decodeCharset } from './decode.ts';
export { parseDate } from './date.ts';
export { normalizeCrlf } from './crlf.ts';
export type { ImapValue, ImapAtom, ImapConcat, ImapLiteral, ImapRaw } from './serialize.ts';
export { serialize, serializeItems, atom, concat, literal, literal8, rawValue, NIL } from './serialize.ts';
