// One IMAP connection: its state (RFC 9051 §3), the command loop, output, and the view of the
// selected folder kept in step with the store. See server.ts for the rules every command follows.
import { setTimeout as sleep } from 'node:timers/promises';
import { type Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { CoreError, type Core } from '../core/core.ts';
import { subscribe } from '../mailstore/changes.ts';
import { claimRecent } from '../mailstore/folders.ts';
import type { Folder } from '../mailstore/folders.ts';
import type { Mailbox } from '../mailstore/mailboxes.ts';
import { ImapReader, type ReadResult, type ReaderLimits } from './reader.ts';
import { type SeqSet, lowerBound, resolve } from './sequence.ts';
import { changedSince, expungedSince, folderById, imapFlags } from './store-read.ts';
import { Args, Bad, tokenize } from './syntax.ts';
import { decodeMutf7, encodeMutf7 } from './utf7.ts';
import { serialize } from './mime/serialize.ts';

export type State = 'notauth' | 'auth' | 'selected' | 'logout';

export interface DoorConfig {
  core: Core;
  log: Logger;
  secureContext: tls.SecureContext;
  /** Autologout after this long without traffic (RFC 9051 §5.4: at least 30 minutes). */
  idleTimeoutMs: number;
  /** Extra wait before answering a failed login (slows password guessing). */
  authFailureDelayMs: number;
  maxCommandsPerSecond: number;
  maxMessageBytes: number;
}

export interface Command {
  tag: string;
  name: string;
  uid: boolean;
  args: Args;
}

/** How a command completes: the tagged response. */
export interface Completion {
  status: 'OK' | 'NO' | 'BAD';
  code?: string;
  text: string;
}

export const ok = (text: string, code?: string): Completion => ({ status: 'OK', code, text });
export const no = (text: string, code?: string): Completion => ({ status: 'NO', code, text });

export type Handler = (s: Session, cmd: Command) => Promise<Completion | void>;

/** The selected folder as this session shows it: sequence numbers are positions in `uids`. */
export class Selected {
  /** UIDs expunged in the store but still shown, until an EXPUNGE response is allowed (RFC 9051 §7.5.1). */
  readonly deferred = new Set<number>();
  /** UID → MODSEQ already reported to the client by this session's own command (no echo later). */
  readonly reported = new Map<number, number>();
  /** UIDs that are \Recent in this session (RFC 3501 §2.3.2): claimed at SELECT or on arrival. */
  readonly recent = new Set<number>();
  /** Keywords announced to the client in FLAGS (RFC 9051 §7.3.5): none is shown before it is here. */
  readonly keywords = new Set<string>();

  constructor(
    public folder: Folder,
    public readonly readOnly: boolean,
    public uids: number[],
    /** Every change up to this MODSEQ has been shown. */
    public knownModseq: number,
  ) {}

  seqOf(uid: number): number {
    const i = lowerBound(this.uids, uid);
    return this.uids[i] === uid ? i + 1 : 0;
  }

  get maxUid(): number {
    return this.uids.length ? this.uids[this.uids.length - 1] : 0;
  }
}

const COMMANDS_NEEDING_SELECTED = new Set(['CHECK', 'CLOSE', 'UNSELECT', 'EXPUNGE', 'SEARCH', 'FETCH', 'STORE', 'COPY', 'MOVE', 'SORT', 'THREAD', 'ESEARCH']);
const COMMANDS_ANY_STATE = new Set(['CAPABILITY', 'NOOP', 'LOGOUT', 'ID']);
const COMMANDS_NOT_AUTH = new Set(['STARTTLS', 'LOGIN', 'AUTHENTICATE']);

/** Commands during which an untagged EXPUNGE must not be sent (RFC 9051 §7.5.1); their UID forms may. */
const NO_EXPUNGE_DURING = new Set(['FETCH', 'STORE', 'SEARCH']);

/**
 * Limits of the command reader. Before login a command is a LOGIN, AUTHENTICATE, STARTTLS, ID or the
 * like: a literal needs a few KB, and a line 64 KiB, what RFC 2971's largest ID takes (30 pairs of a
 * 30-octet field and a 1024-octet value, quoted and escaped); anything over them ends the connection
 * (reader.ts).
 */
function readerLimits(door: DoorConfig, authenticated: boolean): ReaderLimits {
  if (!authenticated) return { maxLine: 64 * 1024, maxLiteral: 8 * 1024, maxAppendLiteral: 8 * 1024, maxCommandBytes: 64 * 1024, hangUpOverLimit: true };
  return { maxLine: 64 * 1024, maxLiteral: 64 * 1024, maxAppendLiteral: door.maxMessageBytes, maxCommandBytes: 256 * 1024 };
}

export class Session {
  state: State = 'notauth';
  mailbox: Mailbox | null = null;
  selected: Selected | null = null;
  readonly enabled = new Set<string>();
  /** SEARCHRES saved result, as UIDs (RFC 5182 / RFC 9051 §6.4.4.1). */
  saved: number[] = [];
  loginFailures = 0;
  private reader: ImapReader;
  private out: Buffer[] = [];
  private outBytes = 0;
  private dirty = false;
  private wake: (() => void) | null = null;
  private unsubscribe: (() => void) | null = null;
  private closed = false;
  private tokens: number;
  private lastRefill = Date.now();
  private consecutiveBad = 0;
  readonly ip: string | null;

  constructor(
    public sock: Socket | TLSSocket,
    public secure: boolean,
    readonly door: DoorConfig,
    private readonly handlers: Record<string, Handler>,
  ) {
    this.ip = sock.remoteAddress ?? null;
    this.tokens = door.maxCommandsPerSecond;
    this.reader = new ImapReader(
      sock,
      readerLimits(door, false),
      async (text) => {
        this.send(text);
        await this.flush();
      },
    );
    this.watch(sock);
  }

  get core(): Core {
    return this.door.core;
  }

  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }

  /** Mailbox names and quoted strings are UTF-8 (RFC 9051 §5.1, RFC 6855 §3). */
  get utf8(): boolean {
    return this.rev2 || this.enabled.has('UTF8=ACCEPT');
  }

  get condstore(): boolean {
    return this.enabled.has('CONDSTORE') || this.enabled.has('QRESYNC');
  }

  get qresync(): boolean {
    return this.enabled.has('QRESYNC');
  }

  private watch(sock: Socket | TLSSocket): void {
    sock.setTimeout(this.door.idleTimeoutMs);
    sock.on('timeout', () => {
      if (this.closed) return;
      // RFC 9051 §5.4: autologout.
      this.sock.write('* BYE Autologout; idle for too long\r\n');
      this.end();
    });
    sock.on('error', () => this.end());
    sock.on('close', () => this.end());
  }

  // ---- output -------------------------------------------------------------------------------

  /** Queues a line (CRLF added) or raw bytes (sent as given). */
  send(data: string | Buffer): void {
    if (this.closed) return;
    const b = typeof data === 'string' ? Buffer.from(data + '\r\n', 'utf8') : data;
    this.out.push(b);
    this.outBytes += b.length;
  }

  /** An untagged response: `* ` + parts, where Buffers are written as is. */
  untagged(...parts: (string | Buffer)[]): void {
    if (parts.every((p) => typeof p === 'string')) {
      this.send('* ' + parts.join(''));
      return;
    }
    this.send(Buffer.concat([Buffer.from('* '), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)), Buffer.from('\r\n')]));
  }

  /** Flushes when a lot is queued (FETCH of many messages); waits while the client is slow. */
  async maybeFlush(): Promise<void> {
    if (this.outBytes >= 256 * 1024) await this.flush();
  }

  /** Writes everything queued; never called while a store transaction is open (see server.ts). */
  async flush(): Promise<void> {
    if (!this.out.length || this.closed) return;
    const data = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    if (!this.sock.write(data)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.sock.off('drain', done);
          this.sock.off('close', done);
          resolve();
        };
        this.sock.on('drain', done);
        this.sock.on('close', done);
      });
    }
  }

  /** Writes an untagged line at once, outside the command flow (shutdown). */
  untaggedNow(text: string): void {
    if (!this.closed) this.sock.write(`* ${text}\r\n`);
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.state = 'logout';
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.reader.detach();
    this.notify();
    this.sock.end();
    // A client that never reads must not keep the socket (and its buffers) forever.
    setTimeout(() => this.sock.destroy(), 2000).unref();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- names --------------------------------------------------------------------------------

  /** A mailbox name from the wire → the store's UTF-8 name ('INBOX' case-insensitive, no trailing '/'). */
  nameIn(raw: string): string {
    let name = this.utf8 ? raw : decodeMutf7(raw);
    if (name.length > 1 && name.endsWith('/')) name = name.slice(0, -1);
    if (/^inbox(\/|$)/i.test(name)) name = 'INBOX' + name.slice(5);
    return name;
  }

  /** A store name → its wire form as an astring. */
  nameOut(name: string): Buffer | string {
    const wire = this.utf8 ? name : encodeMutf7(name);
    if (this.utf8 && !/[\x00-\x1f\x7f]/.test(wire) && wire.length < 1024) return '"' + wire.replace(/[\\"]/g, '\\$&') + '"';
    return serialize(wire);
  }

  // ---- the loop -----------------------------------------------------------------------------

  async greet(capabilities: string): Promise<void> {
    this.send(`* OK [CAPABILITY ${capabilities}] Mailstack IMAP4rev2 server ready`);
    await this.flush();
  }

  async run(): Promise<void> {
    while (!this.closed) {
      const next = await this.reader.readCommand();
      if (this.closed) return;
      if (next.kind === 'eof') break;
      await this.throttle();
      if (next.kind === 'error') {
        this.send(next.response);
        if (next.close || this.countBad()) {
          await this.flush();
          break;
        }
        await this.flush();
        continue;
      }
      await this.execute(next);
      await this.flush();
      if (this.state === 'logout') break;
    }
    this.end();
  }

  private countBad(): boolean {
    if (++this.consecutiveBad < 20) return false;
    this.send('* BYE Too many invalid commands');
    return true;
  }

  /** Token bucket: a client sending commands faster than the limit is slowed, not refused. */
  private async throttle(): Promise<void> {
    const now = Date.now();
    const rate = this.door.maxCommandsPerSecond;
    this.tokens = Math.min(rate, this.tokens + ((now - this.lastRefill) / 1000) * rate);
    this.lastRefill = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return;
    }
    await this.flush();
    await sleep(Math.ceil(((1 - this.tokens) / rate) * 1000));
    this.tokens = 0;
    this.lastRefill = Date.now();
  }

  private async execute(read: Extract<ReadResult, { kind: 'command' }>): Promise<void> {
    const { tag, uid } = read;
    const name = read.name;
    const complete = (c: Completion) => {
      this.send(`${tag} ${c.status} ${c.code ? `[${c.code}] ` : ''}${c.text}`);
      if (c.status === 'BAD') {
        if (this.countBad()) this.state = 'logout';
      } else this.consecutiveBad = 0;
    };
    const handler = this.handlers[name];
    if (!handler || (uid && !['FETCH', 'STORE', 'COPY', 'MOVE', 'SEARCH', 'EXPUNGE', 'SORT', 'THREAD'].includes(name))) {
      complete({ status: 'BAD', text: `Unknown command ${uid ? 'UID ' : ''}${name.slice(0, 40)}` });
      return;
    }
    const first = read.segments[0] as string;
    if (first.length > read.headLength && first[read.headLength] !== ' ') {
      complete({ status: 'BAD', text: 'Unknown command' });
      return;
    }
    // State rules (RFC 9051 §6): a command in the wrong state is BAD.
    if (!COMMANDS_ANY_STATE.has(name)) {
      if (COMMANDS_NOT_AUTH.has(name) && this.state !== 'notauth') return complete({ status: 'BAD', text: `${name} is not allowed after login` });
      if (!COMMANDS_NOT_AUTH.has(name) && this.state === 'notauth') return complete({ status: 'BAD', text: `${name} needs login first` });
      if ((COMMANDS_NEEDING_SELECTED.has(name) || uid) && this.state !== 'selected') return complete({ status: 'BAD', text: `${name} needs a selected mailbox` });
    }
    let result: Completion | void;
    try {
      // A UID command may name messages the client learned of by UIDNEXT: announce them first
      // (EXISTS before their FETCH, RFC 9051 §7.4.1); UID commands may also carry EXPUNGEs.
      if (uid && this.selected) await this.sync(true);
      const args = new Args(tokenize(read.segments, read.headLength));
      result = await handler(this, { tag, name, uid, args });
    } catch (err) {
      result = this.failure(err);
    }
    if (this.closed) return;
    // Revalidate the selected folder after every command that may have changed it, or when the
    // bus said something changed; EXPUNGE responses wait where they are not allowed.
    if (this.selected && this.state === 'selected') {
      try {
        await this.sync(!(NO_EXPUNGE_DURING.has(name) && !uid));
      } catch (err) {
        this.door.log.warn({ err }, 'imap sync failed');
      }
    }
    if (this.closed || result?.code === 'SILENT') return;
    complete(result ?? ok(`${uid ? 'UID ' : ''}${name} completed`));
  }

  failure(err: unknown): Completion {
    if (err instanceof Bad) return { status: 'BAD', text: err.message };
    if (err instanceof CoreError) {
      const code =
        err.status === 404 ? 'NONEXISTENT' : err.status === 409 ? 'ALREADYEXISTS' : err.status === 422 ? 'CANNOT' : err.status === 413 || err.status === 507 ? 'OVERQUOTA' : err.status === 429 ? 'UNAVAILABLE' : 'SERVERBUG';
      return no(err.message.replace(/[\r\n]+/g, ' ').slice(0, 300), code);
    }
    this.door.log.error({ err }, 'imap command failed');
    return no('Internal server error', 'SERVERBUG');
  }

  // ---- changes ------------------------------------------------------------------------------

  /** After login: listen to the mailbox's changes (the bus publishes only after commit). */
  listen(mailbox: Mailbox): void {
    this.unsubscribe?.();
    this.unsubscribe = subscribe(mailbox.id, (change) => {
      if (!this.selected) return;
      if (change.folderId !== this.selected.folder.id && change.type !== 'folder') return;
      this.dirty = true;
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Resolves when the bus reports a change to the selected folder (or the session ends). */
  changed(): Promise<void> {
    if (this.dirty || this.closed) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }

  /** Reads the selected folder's changes since the last look and tells the client (RFC 9051 §7.5). */
  async sync(allowExpunge: boolean, force = false): Promise<void> {
    const sel = this.selected;
    if (!sel) return;
    this.dirty = false;
    const db = this.core.db;
    const folder = await folderById(db, sel.folder.id);
    if (!folder || Number(folder.uid_validity) !== Number(sel.folder.uid_validity)) {
      // Deleted or renamed away under us (RFC 9051 §7.1.5): nothing we show is valid any more.
      this.send('* BYE The selected mailbox was deleted');
      this.state = 'logout';
      await this.flush();
      this.end();
      return;
    }
    sel.folder = folder;
    const highest = Number(folder.highest_modseq);
    if (highest > sel.knownModseq || force) {
      const from = sel.knownModseq;
      const [expunged, changed] = await Promise.all([expungedSince(db, sel.folder.id, from, highest), changedSince(db, sel.folder.id, from, highest)]);
      for (const uid of expunged) if (sel.seqOf(uid)) sel.deferred.add(uid);
      const added: number[] = [];
      const max = sel.maxUid;
      for (const row of changed) {
        if (row.uid > max) {
          added.push(row.uid);
          continue;
        }
        if (!sel.seqOf(row.uid) || sel.deferred.has(row.uid)) continue;
        const mine = sel.reported.get(row.uid);
        if (mine !== undefined && row.modseq <= mine) continue;
        this.untagged(`${sel.seqOf(row.uid)} FETCH (UID ${row.uid} FLAGS (${this.shownFlags(row.uid, imapFlags(row)).join(' ')})${this.condstore ? ` MODSEQ (${row.modseq})` : ''})`);
      }
      sel.reported.clear();
      sel.knownModseq = highest;
      if (allowExpunge) this.flushExpunges(sel);
      if (added.length) {
        sel.uids.push(...added);
        const last = added[added.length - 1];
        const mark = sel.readOnly ? Number(folder.recent_uid) : await claimRecent(db, folder.id, last);
        for (const u of added) if (u > mark) sel.recent.add(u);
        this.untagged(`${sel.uids.length} EXISTS`);
        if (!this.rev2) this.untagged(`${sel.recent.size} RECENT`);
      }
    } else if (allowExpunge && sel.deferred.size) {
      this.flushExpunges(sel);
    }
  }

  /** Sends EXPUNGE (or VANISHED with QRESYNC, RFC 7162 §3.2.10) for `uids` and drops them from the view. */
  expunged(uids: readonly number[]): void {
    const sel = this.selected;
    if (!sel) return;
    const gone = [...uids].filter((u) => sel.seqOf(u)).sort((a, b) => a - b);
    if (!gone.length) return;
    if (this.qresync) {
      const set = new Set(gone);
      sel.uids = sel.uids.filter((u) => !set.has(u));
      this.untagged(`VANISHED ${compactUids(gone)}`);
    } else {
      // Highest first: each EXPUNGE renumbers the messages after it, so earlier numbers stay right.
      for (let i = gone.length - 1; i >= 0; i--) {
        const seq = sel.seqOf(gone[i]);
        sel.uids.splice(seq - 1, 1);
        this.untagged(`${seq} EXPUNGE`);
      }
    }
    for (const u of gone) {
      sel.deferred.delete(u);
      sel.recent.delete(u);
    }
  }

  /**
   * The flags a response shows for `uid`: \Recent first for an IMAP4rev1 session (RFC 3501
   * §2.3.2; IMAP4rev2 has none), and any keyword not yet announced is announced first with an
   * untagged FLAGS and PERMANENTFLAGS (RFC 9051 §7.3.5), so call this before queueing the response.
   */
  shownFlags(uid: number, flags: string[]): string[] {
    const sel = this.selected;
    if (!sel) return flags;
    let fresh = false;
    for (const f of flags) {
      if (f.startsWith('\\') || sel.keywords.has(f)) continue;
      sel.keywords.add(f);
      fresh = true;
    }
    if (fresh) this.announceFlags(sel);
    return !this.rev2 && sel.recent.has(uid) ? ['\\Recent', ...flags] : flags;
  }

  /**
   * A CONDSTORE-enabling command (RFC 7162 §3.1): the first one while a mailbox is selected gets
   * an untagged OK [HIGHESTMODSEQ] before its results.
   */
  enableCondstore(): void {
    if (this.enabled.has('CONDSTORE')) return;
    this.enabled.add('CONDSTORE');
    if (this.selected) this.untagged(`OK [HIGHESTMODSEQ ${this.selected.knownModseq}] Highest`);
  }

  /** FLAGS and PERMANENTFLAGS for the selected folder: the system flags and its known keywords. */
  announceFlags(sel: Selected): void {
    const all = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', ...sel.keywords].join(' ');
    this.untagged(`FLAGS (${all})`);
    this.untagged(`OK [PERMANENTFLAGS (${sel.readOnly ? '' : all + ' \\*'})] Flags permitted`);
  }

  private flushExpunges(sel: Selected): void {
    if (sel.deferred.size) this.expunged([...sel.deferred]);
  }

  // ---- helpers for handlers -----------------------------------------------------------------

  /** The UIDs (ascending) a sequence set names in the selected folder; '$' is the saved SEARCH result. */
  uidsFor(set: SeqSet, byUid: boolean): number[] {
    const sel = this.selected!;
    if (set === '$') return this.saved.filter((u) => sel.seqOf(u));
    return resolve(set, sel.uids, byUid);
  }

  markDirty(): void {
    this.dirty = true;
  }

  /** Reads one continuation line (AUTHENTICATE, IDLE); null at end of stream or when too long. */
  async readLine(): Promise<string | null> {
    const got = await this.reader.readLine(16 * 1024);
    if (!got || 'tooLong' in got) return null;
    return got.line.toString('utf8');
  }

  /** Starts reading a line without waiting (IDLE races it against changes). */
  lineReader(): Promise<{ line: Buffer } | { tooLong: true } | null> {
    return this.reader.readLine(16 * 1024);
  }

  /** STARTTLS (RFC 9051 §6.2.1): after the OK, drop unread plaintext and switch the socket. */
  async startTls(): Promise<void> {
    await this.flush();
    const raw = this.sock as Socket;
    this.reader.detach();
    this.reader.takeBuffered();
    raw.removeAllListeners('timeout');
    raw.setTimeout(0);
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: this.door.secureContext });
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', resolve);
      secure.once('error', reject);
      secure.once('close', () => reject(new Error('closed during TLS handshake')));
    });
    this.sock = secure;
    this.secure = true;
    this.reader = new ImapReader(
      secure,
      readerLimits(this.door, this.state !== 'notauth'),
      async (text) => {
        this.send(text);
        await this.flush();
      },
    );
    this.watch(secure);
  }

  /** Sleeps a little after a failed login (brute force costs time). */
  async failDelay(): Promise<void> {
    await this.flush();
    if (this.door.authFailureDelayMs > 0) await sleep(this.door.authFailureDelayMs);
  }

  async authenticated(mailbox: Mailbox): Promise<void> {
    this.mailbox = mailbox;
    this.state = 'auth';
    this.reader.setLimits(readerLimits(this.door, true));
    this.listen(mailbox);
  }

  /** Leaves the selected state (CLOSE, UNSELECT, a failed SELECT). */
  deselect(): void {
    this.selected = null;
    this.saved = [];
    if (this.state === 'selected') this.state = 'auth';
  }
}

function compactUids(uids: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < uids.length; ) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === uids[j] + 1) j++;
    parts.push(i === j ? String(uids[i]) : `${uids[i]}:${uids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
