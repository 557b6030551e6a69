// GTUBE, the Generic Test for Unsolicited Bulk Email (SpamAssassin's test string): a message
// carrying it is spam by definition, so operators and tests can check the reject path end to end.
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

/** True when the string appears in the subject or a text part (line breaks inside it are allowed, as SpamAssassin does). */
export function hasGtube(...texts: (string | null | undefined)[]): boolean {
  for (const t of texts) {
    if (!t) continue;
    if (t.includes(GTUBE)) return true;
    if (t.length < 5_000_000 && t.replace(/\s+/g, '').includes(GTUBE)) return true;
  }
  return false;
}
