// The new text of a reply, without what it quotes: the API's `extracted_text`.
//
// Implementation notes (invariants a newcomer must not break):
// - Line-based and linear: each line is looked at a bounded number of times, and the attribution
//   patterns run only on lines of at most MAX_PATTERN_LINE characters, so a hostile 50 MB body
//   costs one pass.
// - What is removed: lines quoted with '>' (RFC 3676 §4.5 quote marks, any depth, anywhere, so an
//   interleaved reply keeps its answers); the attribution line that introduces a quote
//   ("On … wrote:" and its French, German, Spanish, Italian, Dutch, Portuguese and Swedish
//   forms, also wrapped over two lines as Gmail does); and everything from an Outlook-style
//   boundary on ("-----Original Message-----", a "From: … Sent: …" header block, the
//   underscore rule Outlook puts above it), because Outlook does not mark quoted lines.
// - An attribution line not followed by '>'-quoted lines (Outlook for Mac, some mobile clients)
//   is treated as a boundary: everything after it is the quote.
// - The signature is kept by default, like Resend and AgentMail, which strip quoted text only:
//   it belongs to the new message. `stripSignature` removes it from the RFC 3676 §4.3
//   delimiter "-- " on (also "--" as clients that trim trailing spaces send it).
// - Forwarded messages ("---------- Forwarded message ---------", "Begin forwarded message:") are
//   not quotes of a reply and are kept.

export interface ReplyTextOptions {
  /** Also remove the signature (from the "-- " delimiter line to the end). */
  stripSignature?: boolean;
}

const MAX_PATTERN_LINE = 1000;

/** "On <date>, <name> wrote:" and its translations. Bounded `.{0,n}` keeps the match linear. */
const ATTRIBUTION: RegExp[] = [
  /^On\s.{1,400}\swrote\s?:$/i, // English: Gmail, Apple Mail, Thunderbird
  /^.{1,200}\swrote\s?:$/i, // Thunderbird's "Name wrote:" and "<date>, Name wrote:"
  /^Le\s.{1,400}\sa\s+écrit\s?:$/i, // French
  /^Am\s.{1,400}\sschrieb\s.{0,200}:$/i, // German: "Am 01.04.2025 um 10:00 schrieb X:"
  /^.{1,200}\sschrieb\s?:$/i, // German: "X schrieb:"
  /^El\s.{1,400}\sescribió\s?:$/i, // Spanish
  /^Il\s.{1,400}\sha\s+scritto\s?:$/i, // Italian
  /^Op\s.{1,400}\sschreef\s.{0,200}:$/i, // Dutch
  /^Em\s.{1,400}\sescreveu\s?:$/i, // Portuguese
  /^Den\s.{1,400}\sskrev\s.{0,200}:$/i, // Swedish / Danish / Norwegian
];

/** Outlook's separator line (and its German, French, Spanish, Italian, Dutch forms). */
const ORIGINAL_MESSAGE = /^-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original|Messaggio originale|Oorspronkelijk bericht|Original meddelelse|Ursprungligt meddelande)\s*-{2,}$/i;
/** The first line of an Outlook header block: From:, in bold when converted from HTML. */
const OUTLOOK_FROM = /^\*?(?:From|De|Von|Van|Da|Från|Fra)\s?:\*?\s/i;
const OUTLOOK_SENT = /^\*?(?:Sent|Date|Envoyé|Gesendet|Datum|Enviado|Inviato|Verzonden|Skickat|Sendt|Fecha|Data)\s?:\*?\s/i;
const UNDERSCORE_RULE = /^_{20,}$/;
/** Gmail, Thunderbird, Outlook and Apple Mail forward markers: what follows is kept verbatim. */
const FORWARDED = /^(?:-{2,}\s*(?:Forwarded message|Forwarded Message|Original Message Follows|Weitergeleitete Nachricht|Message transféré)\s*-{2,}|Begin forwarded message:)$/i;

function isQuoted(line: string): boolean {
  return /^\s{0,3}>/.test(line);
}

/**
 * Each line trimmed once (and '' for lines too long to be a marker): every pattern below runs on
 * the trimmed line, anchored, with no leading-whitespace backtracking.
 */
function markerText(line: string): string {
  return line.length > MAX_PATTERN_LINE ? '' : line.trim();
}

function matchesAttribution(t: string): boolean {
  // Pre-filtered on the final ':' so the patterns run on few lines.
  return t.length <= MAX_PATTERN_LINE && t.endsWith(':') && ATTRIBUTION.some((re) => re.test(t));
}

/** The header block of an Outlook reply starts at `i`: From: then Sent:/Date: within 3 lines. */
function isOutlookBlock(lines: string[], i: number): boolean {
  if (!OUTLOOK_FROM.test(markerText(lines[i]))) return false;
  for (let j = i + 1; j <= i + 3 && j < lines.length; j++) {
    if (OUTLOOK_SENT.test(markerText(lines[j]))) return true;
  }
  return false;
}

function nextNonBlank(lines: string[], from: number): number {
  let j = from;
  while (j < lines.length && lines[j].trim() === '') j++;
  return j;
}

/** The reply text without quoted parts, trimmed of surrounding blank lines. */
export function extractReplyText(text: string | null | undefined, opts: ReplyTextOptions = {}): string {
  if (typeof text !== 'string' || text === '') return '';
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let kept: string[] = [];

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const t = markerText(line);
    if (t === '') {
      if (!isQuoted(line)) kept.push(line); // blank (or too long to be a marker): plain text
      continue;
    }

    if (FORWARDED.test(t)) {
      kept = kept.concat(lines.slice(i)); // a forward is content, not a quote of this conversation
      break;
    }
    if (ORIGINAL_MESSAGE.test(t)) break;
    if (UNDERSCORE_RULE.test(t)) {
      const next = nextNonBlank(lines, i + 1);
      if (next < lines.length && isOutlookBlock(lines, next)) break;
    }
    if (isOutlookBlock(lines, i)) break;

    // Attribution on one line, or wrapped over two (Gmail wraps at ~78 columns).
    let attribution: string | null = null;
    if (matchesAttribution(t)) attribution = t;
    else if (i + 1 < lines.length && /^(?:On|Le|Am|El|Il|Op|Em|Den)\s/i.test(t) && !isQuoted(lines[i + 1])) {
      const joined = `${t} ${markerText(lines[i + 1])}`;
      if (matchesAttribution(joined)) attribution = joined;
    }
    if (attribution !== null) {
      const span = attribution === t ? 1 : 2;
      const after = nextNonBlank(lines, i + span);
      if (after < lines.length && isQuoted(lines[after])) {
        i += span - 1; // drop the attribution; the quoted lines go below
        continue;
      }
      // Not followed by a quote: the unquoted original follows (Outlook for Mac, some mobile
      // clients) — but only a line that looks machine-written (a date or an address in it) cuts,
      // so "Here is what I wrote:" in someone's own text does not.
      if (/\d|@/.test(attribution)) break;
    }

    if (isQuoted(line)) continue;

    if (opts.stripSignature && /^-- ?$/.test(line)) break;
    kept.push(line);
  }

  // Trim blank lines (and trailing spaces) around the result, keep the inside as written.
  let start = 0;
  let end = kept.length;
  while (start < end && kept[start].trim() === '') start++;
  while (end > start && kept[end - 1].trim() === '') end--;
  return kept.slice(start, end).map(trimEndSpaces).join('\n');
}

/** Trailing spaces and tabs removed by a loop: /[ \t]+$/ is quadratic on long whitespace runs. */
function trimEndSpaces(line: string): string {
  let end = line.length;
  while (end > 0 && (line.charCodeAt(end - 1) === 0x20 || line.charCodeAt(end - 1) === 0x09)) end--;
  return end === line.length ? line : line.slice(0, end);
}
