// The one API client of the app, typed from the OpenAPI document (api.gen.ts, generated at build
// time by scripts/build-web.ts from the route schemas): a path, its parameters, its body and its
// answer all come from there, so a call the server does not offer does not compile.
// Cookie session + the CSRF token from /v1/auth/session on every write; never an API key.
import type { paths } from './api.gen';

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';
type Op<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : unknown;
type Ok<O> = O extends { responses: infer R } ? (200 extends keyof R ? JsonOf<R[200]> : 201 extends keyof R ? JsonOf<R[201]> : unknown) : unknown;
type BodyOf<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
type PathOf<O> = O extends { parameters: { path: infer PP } } ? PP : never;
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? Q : never;
type PathsWith<M extends Method> = { [P in keyof paths]: paths[P][M] extends undefined | never ? never : P }[keyof paths];

export interface CallOptions<O> {
  path?: PathOf<O>;
  query?: QueryOf<O>;
  body?: BodyOf<O>;
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly name: string, message: string) {
    super(message);
  }
}

let csrf = '';
export const setCsrf = (token: string) => (csrf = token);
/** Called on 401 so the app can show the sign-in page. */
export let onSignedOut: () => void = () => {};
export const setOnSignedOut = (fn: () => void) => (onSignedOut = fn);

export function urlOf(template: string, path?: Record<string, unknown>, query?: Record<string, unknown>): string {
  let url = template.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(String(path?.[k] ?? '')));
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  if (qs) url += `?${qs}`;
  return url;
}

async function call(method: Method, template: string, opts: CallOptions<any> = {}): Promise<any> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (method !== 'get') headers['x-csrf-token'] = csrf;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(urlOf(template, opts.path as any, opts.query as any), { method: method.toUpperCase(), headers, body, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'network_error', 'The server cannot be reached. Check your connection; the app retries when you act again.');
  }
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    if (res.status === 401 && !template.startsWith('/v1/auth/')) onSignedOut();
    throw new ApiError(res.status, json?.name ?? 'error', json?.message ?? `The server answered ${res.status} ${res.statusText}.`);
  }
  return json;
}

export const api = {
  get: <P extends PathsWith<'get'>>(p: P, o?: CallOptions<Op<P, 'get'>>): Promise<Ok<Op<P, 'get'>>> => call('get', p as string, o),
  post: <P extends PathsWith<'post'>>(p: P, o?: CallOptions<Op<P, 'post'>>): Promise<Ok<Op<P, 'post'>>> => call('post', p as string, o),
  patch: <P extends PathsWith<'patch'>>(p: P, o?: CallOptions<Op<P, 'patch'>>): Promise<Ok<Op<P, 'patch'>>> => call('patch', p as string, o),
  put: <P extends PathsWith<'put'>>(p: P, o?: CallOptions<Op<P, 'put'>>): Promise<Ok<Op<P, 'put'>>> => call('put', p as string, o),
  delete: <P extends PathsWith<'delete'>>(p: P, o?: CallOptions<Op<P, 'delete'>>): Promise<Ok<Op<P, 'delete'>>> => call('delete', p as string, o),
};

/** A typed URL for links and downloads (attachments, raw source). */
export const link = <P extends PathsWith<'get'>>(p: P, path: PathOf<Op<P, 'get'>>, query?: QueryOf<Op<P, 'get'>>) => urlOf(p as string, path as any, query as any);

export type Answer<P extends PathsWith<'get'>> = Ok<Op<P, 'get'>>;
