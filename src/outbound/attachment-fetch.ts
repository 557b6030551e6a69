// Fetching an attachment given by `path` (an http or https URL), as Resend does.
//
// The URL is the tenant's choice and the request leaves from inside the operator's network, so
// it goes through the same SSRF guard as webhooks (events/address.ts resolveTarget): the host is
// resolved once, every address checked (loopback, private, link-local … refused unless
// MAILSTACK_WEBHOOK_ALLOW_PRIVATE=true), and the connection is pinned to the checked addresses so
// DNS rebinding cannot switch the target. Redirects are followed (at most 3), each hop checked
// the same way. The body is read up to `maxBytes` and the whole fetch is bounded in time.
import type { Settings } from '../config/settings.ts';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { type ResolvedTarget, resolveTarget } from '../events/address.ts';

export class AttachmentFetchError extends Error {}

export interface FetchedAttachment {
  content: Buffer;
  contentType: string | null;
  /** The last path segment of the final URL, when it looks like a file name. */
  filename: string | null;
}

function pinnedLookup(target: ResolvedTarget): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: any[]) => void) => {
    if (options?.all) callback(null, target.addresses);
    else callback(null, target.addresses[0].address, target.addresses[0].family);
  }) as LookupFunction;
}

export async function fetchAttachment(
  rawUrl: string,
  opts: { allowPrivate: boolean; maxBytes: number; timeoutMs: number; dnsServers?: Settings['dnsServers'] },
): Promise<FetchedAttachment> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new AttachmentFetchError('The attachment `path` must be an http or https URL.');
  }
  const deadline = Date.now() + opts.timeoutMs;
  for (let hop = 0; hop <= 3; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AttachmentFetchError('The attachment `path` must be an http or https URL.');
    if (url.username || url.password) throw new AttachmentFetchError('The attachment `path` must not carry credentials.');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let target: ResolvedTarget;
    try {
      target = await resolveTarget(host, opts.allowPrivate, opts.dnsServers);
    } catch (err) {
      throw new AttachmentFetchError(`The attachment at ${url.origin} cannot be fetched: ${(err as Error).message.replace('webhooks may only be sent', 'attachments may only be fetched from')}`);
    }
    const result = await get(url, host, target, opts.maxBytes, Math.max(1, deadline - Date.now()));
    if (result.redirect) {
      url = new URL(result.redirect, url);
      continue;
    }
    const last = decodeURIComponent(url.pathname.split('/').pop() ?? '');
    return {
      content: result.body!,
      contentType: result.contentType,
      filename: /^[^\u0000-\u001f/\\]{1,255}\.[A-Za-z0-9]{1,10}$/.test(last) ? last : null,
    };
  }
  throw new AttachmentFetchError('The attachment `path` redirects more than 3 times.');
}

function get(url: URL, host: string, target: ResolvedTarget, maxBytes: number, timeoutMs: number) {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<{ redirect?: string; body?: Buffer; contentType: string | null }>((resolve, reject) => {
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(new AttachmentFetchError(message));
    };
    const req = client.request(
      {
        method: 'GET',
        protocol: url.protocol,
        hostname: host,
        port: url.port || undefined,
        path: url.pathname + url.search,
        headers: { 'user-agent': 'Mailstack-Attachments/1', accept: '*/*' },
        agent: false,
        lookup: pinnedLookup(target),
        servername: isIP(host) ? undefined : host,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          settled = true;
          clearTimeout(timer);
          resolve({ redirect: res.headers.location, contentType: null });
          return;
        }
        if (status !== 200) {
          res.resume();
          return fail(`The attachment at ${url.origin}${url.pathname} could not be fetched (HTTP ${status}).`);
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) return fail(`The attachment at ${url.origin}${url.pathname} is larger than ${maxBytes} bytes.`);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return fail(`The attachment at ${url.origin}${url.pathname} is larger than ${maxBytes} bytes.`);
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const ct = res.headers['content-type'];
          resolve({ body: Buffer.concat(chunks), contentType: typeof ct === 'string' ? ct.split(';')[0].trim().toLowerCase() || null : null });
        });
        res.on('error', (err) => fail(`The attachment could not be fetched: ${err.message}`));
      },
    );
    const timer = setTimeout(() => fail(`The attachment at ${url.origin}${url.pathname} did not arrive within ${Math.round(timeoutMs / 1000)}s.`), timeoutMs);
    req.on('error', (err) => fail(`The attachment at ${url.origin}${url.pathname} could not be fetched: ${err.message}`));
    req.end();
  });
}
