// Sequence sets (RFC 9051 §9 sequence-set, §6.4.4 "$" of SEARCHRES) and their compact writing.
//
// Implementation notes:
// - A set is kept as ranges, never expanded from the text: "1:4294967295" must not allocate four
//   billion numbers. It is resolved against the session's ordered UID list, which is bounded by
//   the folder's size.
// - `*` is the largest number in use (the last message's sequence number or UID); in an empty folder
//   `*` matches nothing (RFC 9051 §6.4.8: "UID range of 559:*" still returns the last message if it
//   is lower than 559, since n:m is the same as m:n).
import { Bad } from './syntax.ts';

export interface SeqRange {
  /** Inclusive bounds; Infinity stands for `*`. */
  from: number;
  to: number;
}

export type SeqSet = SeqRange[] | '$';

const NUM = /^[1-9]\d{0,9}$/;

function num(part: string): number {
  if (part === '*') return Infinity;
  if (!NUM.test(part)) throw new Bad('Bad sequence set');
  const n = Number(part);
  if (n > 0xffffffff) throw new Bad('Bad sequence set');
  return n;
}

export function parseSeqSet(text: string): SeqSet {
  if (text === '$') return '$';
  if (!text || text.length > 100_000) throw new Bad('Bad sequence set');
  const out: SeqRange[] = [];
  for (const part of text.split(',')) {
    const colon = part.indexOf(':');
    if (colon < 0) {
      const n = num(part);
      out.push({ from: n, to: n });
    } else {
      const a = num(part.slice(0, colon));
      const b = num(part.slice(colon + 1));
      out.push({ from: Math.min(a, b), to: Math.max(a, b) });
    }
  }
  return out;
}

export function isSeqSet(text: string): boolean {
  return text === '$' || /^(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*$/.test(text);
}

/**
 * The UIDs of `uids` (ascending) that `set` names: by sequence number when !byUid, by UID otherwise.
 * `*` is the last message; ranges are resolved with binary search.
 */
export function resolve(set: SeqRange[], uids: readonly number[], byUid: boolean): number[] {
  const n = uids.length;
  if (!n) return [];
  const picked = new Set<number>();
  const out: number[] = [];
  const max = byUid ? uids[n - 1] : n;
  for (const r of set) {
    let from = r.from === Infinity ? max : r.from;
    let to = r.to === Infinity ? max : r.to;
    if (from > to) [from, to] = [to, from];
    if (byUid) {
      let i = lowerBound(uids, from);
      for (; i < n && uids[i] <= to; i++) if (!picked.has(uids[i])) picked.add(uids[i]), out.push(uids[i]);
    } else {
      for (let s = Math.max(1, from); s <= Math.min(n, to); s++) {
        const u = uids[s - 1];
        if (!picked.has(u)) picked.add(u), out.push(u);
      }
    }
  }
  return out.sort((a, b) => a - b);
}

export function lowerBound(arr: readonly number[], v: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Writes ascending numbers compactly: 1,2,3,7 → "1:3,7". */
export function compact(nums: readonly number[]): string {
  const sorted = [...nums].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] <= sorted[j] + 1) j++;
    parts.push(sorted[i] === sorted[j] ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Writes numbers in the given order (COPYUID must pair source and destination one for one). */
export function ordered(nums: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < nums.length; ) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j] + 1) j++;
    parts.push(i === j ? String(nums[i]) : `${nums[i]}:${nums[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Whether n is in the set, with `*` meaning `star`. */
export function contains(set: SeqRange[], n: number, star: number): boolean {
  for (const r of set) {
    let from = r.from === Infinity ? star : r.from;
    let to = r.to === Infinity ? star : r.to;
    if (from > to) [from, to] = [to, from];
    if (n >= from && n <= to) return true;
  }
  return false;
}
