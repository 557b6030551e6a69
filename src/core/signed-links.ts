// Signed download links: the `download_url`s of sent attachments (src/outbound/emails.ts) and of
// received messages and their attachments (src/inboxes/receiving.ts). They need no API key (the
// SDK's `emails.receiving.forward` fetches `raw.download_url` without one), like Resend's signed
// URLs.
//
// Implementation notes (invariants a newcomer must not break):
// - The token is sealed by the vault (AES-256-GCM, authenticated), under a context string per
//   kind of link, so a token of one kind never opens another. Its claims are the workspace (`w`),
//   the ids the link is bound to (short keys chosen by the caller) and the expiry (`x`, ms).
// - Opening checks every bound id against the request and the expiry against the core clock, and
//   answers 403 `invalid_access` otherwise; the caller then looks the thing up in the returned
//   workspace, so a link can never reach across tenants.
// - Links live one hour; a fresh one comes with every read of the JSON that holds it.
// - Every fetch through a link is audited by the caller that opens it (before any byte is sent):
//   received mail as `content.read`, exports as `export.downloaded` (plus `content.read` per inbox),
//   sent attachments as `email.attachment_downloaded`; the actor is `linkActor(fetcher)`.
import { type Actor, type Core, CoreError } from './core.ts';

/** Who fetched a link: no account, only the request's address and user agent. */
export interface LinkFetcher {
  ip: string | null;
  userAgent: string | null;
}

export function linkActor(fetcher: LinkFetcher | undefined): Actor {
  return { type: 'link', id: null, label: 'signed download link', ip: fetcher?.ip ?? null, userAgent: fetcher?.userAgent ?? null };
}

export const DOWNLOAD_TTL_MS = 3_600_000;

export interface SignedLink {
  download_url: string;
  expires_at: string;
}

/** A link to `${publicUrl}${path}?token=…`, bound to the workspace and the given ids. */
export function signedLink(core: Core, context: string, workspaceId: string, bound: Record<string, string>, path: string): SignedLink {
  const expires = core.clock.now() + DOWNLOAD_TTL_MS;
  const token = core.vault.encrypt(JSON.stringify({ w: workspaceId, ...bound, x: expires }), context);
  return { download_url: `${core.settings.publicUrl}${path}?token=${encodeURIComponent(token)}`, expires_at: new Date(expires).toISOString() };
}

/** Checks a link's token for these ids; returns the workspace it was made for, or throws 403. */
export function openSignedLink(core: Core, context: string, token: unknown, bound: Record<string, string>, whatToGetAgain: string): string {
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(core.vault.decrypt(String(token), context));
  } catch {
    throw new CoreError(403, 'invalid_access', 'The download link is not valid.');
  }
  if (!claims || typeof claims.w !== 'string' || Object.entries(bound).some(([k, v]) => claims[k] !== v)) {
    throw new CoreError(403, 'invalid_access', 'The download link is not valid.');
  }
  if (!(typeof claims.x === 'number' && claims.x >= core.clock.now())) {
    throw new CoreError(403, 'invalid_access', `The download link has expired; get the ${whatToGetAgain} again for a fresh one.`);
  }
  return claims.w;
}
