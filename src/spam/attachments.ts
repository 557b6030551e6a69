// Executable attachments, recognised by their first bytes (content sniffing) and, failing that,
// by their file name: a workspace that refuses them gets a 5.7.1 naming the rule and the file.
import type { ParsedAttachment } from '../mailstore/parse.ts';

export const EXECUTABLE_RULE = 'executable-attachment';

const MAGIC: { name: string; test: (b: Buffer) => boolean }[] = [
  { name: 'Windows PE/DOS executable', test: (b) => b.length >= 2 && b[0] === 0x4d && b[1] === 0x5a },
  { name: 'ELF executable', test: (b) => b.length >= 4 && b.readUInt32BE(0) === 0x7f454c46 },
  { name: 'Mach-O executable', test: (b) => b.length >= 4 && [0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe].includes(b.readUInt32BE(0)) },
  { name: 'script with an interpreter line', test: (b) => b.length >= 2 && b[0] === 0x23 && b[1] === 0x21 },
];

/** Names Windows runs on a double click even when the content looks harmless (scripts, installers). */
const EXECUTABLE_EXTENSIONS = /\.(exe|scr|com|pif|bat|cmd|msi|msp|vbs|vbe|js|jse|wsf|wsh|ps1|hta|cpl|jar|lnk|reg|dll)$/i;

/** The first executable attachment and what it is, or null. */
export function findExecutable(attachments: Pick<ParsedAttachment, 'filename' | 'content'>[]): { filename: string | null; kind: string } | null {
  for (const a of attachments) {
    const magic = MAGIC.find((m) => m.test(a.content));
    if (magic) return { filename: a.filename, kind: magic.name };
    if (a.filename && EXECUTABLE_EXTENSIONS.test(a.filename.trim())) return { filename: a.filename, kind: 'executable file type' };
  }
  return null;
}
