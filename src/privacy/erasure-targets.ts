// The tables an erasure covers beyond the platform's own (src/privacy/erasure.ts): each part that
// keeps rows naming a person (campaigns, automations …) registers its tables here, so an erasure
// removes them without the privacy part knowing every other part's schema.
//
// Implementation notes (invariants a newcomer must not break):
// - A target is scoped to the erasure's workspace (`workspace_id`), always: one workspace's erasure
//   never touches another's rows.
// - A table that does not exist in this store (a part not installed yet) is skipped, not an error.
// - `delete` removes the matching rows (after the rows of `dependents` keyed by their ids);
//   `redact` keeps them and replaces the address with `[erased]` in the `contains` columns.
// - Targets run in registration order, in batches, each batch its own transaction; they must be
//   idempotent (an erasure retried after a crash runs them again).
// - Registering module imports this file only (never erasure.ts), so there is no import cycle.
import type { Core } from '../core/core.ts';

export interface ErasureTarget {
  /** The key of its count in the erasure's `removed`. */
  kind: string;
  table: string;
  /** The key column used to page and delete (default `id`). */
  key?: string;
  /** Columns that hold the address as their whole value (compared case-insensitively). */
  equals?: string[];
  /** Text or JSON columns that may contain it. */
  contains?: string[];
  /** `delete` (default) removes matching rows; `redact` cuts the address out of `contains`. */
  mode?: 'delete' | 'redact';
  /** Rows of other tables keyed by the matching rows' keys, deleted first (e.g. a recipient's events). */
  dependents?: { table: string; column: string; kind: string }[];
  /** Work no column match expresses (files, …): returns how many items it removed. */
  custom?: (core: Core, workspaceId: string, address: string) => Promise<number>;
}

const TARGETS = new Map<string, ErasureTarget>();

/** Adds a table to what every erasure covers (a later registration of the same kind replaces it). */
export function registerErasureTarget(target: ErasureTarget): void {
  if (!target.custom && !target.equals?.length && !target.contains?.length) throw new Error(`erasure target ${target.kind} matches no column`);
  if (target.mode === 'redact' && !target.contains?.length) throw new Error(`erasure target ${target.kind} redacts but names no column to cut`);
  TARGETS.set(target.kind, target);
}

export function erasureTargets(): ErasureTarget[] {
  return [...TARGETS.values()];
}
