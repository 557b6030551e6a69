// Message bodies and attachments live outside the database, content-addressed by SHA-256, behind
// this small interface: the filesystem by default, an S3-compatible bucket when scaled out.
//
// Implementation notes:
// - put() returns only after the bytes are on disk: written to a temporary file, fsynced, renamed
//   into place, and the directory fsynced. A caller may then commit the row that refers to it
//   and acknowledge (SMTP 250, HTTP 200): a crash after that loses nothing.
// - The same content is stored once. Who refers to a blob is the database's business; delete()
//   is for the caller that knows the last reference is gone.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

export interface BlobStore {
  put(data: Buffer): Promise<string>;
  get(id: string): Promise<Buffer>;
  stream(id: string): Readable;
  has(id: string): Promise<boolean>;
  delete(id: string): Promise<void>;
}

const ID = /^[0-9a-f]{64}$/;

export class FileBlobStore implements BlobStore {
  constructor(
    private readonly root: string,
    /** Told the size of every new file written (metrics); not of a blob that already existed. */
    private readonly onWrite?: (bytes: number) => void,
  ) {}

  private file(id: string): string {
    if (!ID.test(id)) throw new Error(`not a blob id: ${id.slice(0, 80)}`);
    return path.join(this.root, id.slice(0, 2), id.slice(2, 4), id);
  }

  async put(data: Buffer): Promise<string> {
    const id = createHash('sha256').update(data).digest('hex');
    const target = this.file(id);
    if (await this.has(id)) return id;
    const dir = path.dirname(target);
    await mkdir(dir, { recursive: true });
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
    this.onWrite?.(data.length);
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
    return id;
  }

  get(id: string): Promise<Buffer> {
    return readFile(this.file(id));
  }

  stream(id: string): Readable {
    return createReadStream(this.file(id));
  }

  async has(id: string): Promise<boolean> {
    try {
      await stat(this.file(id));
      return true;
    } catch {
      return false;
    }
  }

  async delete(id: string): Promise<void> {
    await rm(this.file(id), { force: true });
  }
}
