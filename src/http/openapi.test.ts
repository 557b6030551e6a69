// /v1/openapi.json gives a usable client: a `servers` entry, a unique operationId and a response
// schema for every operation. A typed client is generated from it with openapi-typescript, calls
// are compiled against it with the TypeScript compiler (a wrong one must not compile), and real
// answers of the node match the documented response schemas.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, type TestServer, api, startTestServer } from '../testkit/server.ts';

let server: TestServer;
let doc: any;
let key: string;
const dir = path.join(ROOT, '.tmp', `openapi-${process.pid}-${Date.now()}`);

beforeAll(async () => {
  // Development mode, so a domain verifies and mail can be sent without DNS.
  server = await startTestServer({ env: { MAILSTACK_MODE: 'development' } });
  key = (await server.setup('oa@example.com', 'OpenAPI')).apiKey;
  doc = (await api(server.url, 'GET', '/v1/openapi.json')).json;
  mkdirSync(dir, { recursive: true });
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const operations = () =>
  Object.entries<any>(doc.paths).flatMap(([p, item]) => ['get', 'put', 'post', 'patch', 'delete'].filter((m) => item[m]).map((m) => ({ path: p, method: m, op: item[m] })));

/** The documented JSON schema of an operation's success answer. */
function successSchema(p: string, method: string): { code: string; schema: any } {
  const responses = doc.paths[p][method].responses;
  const code = Object.keys(responses).find((c) => c.startsWith('2') && responses[c].content)!;
  return { code, schema: responses[code].content?.['application/json']?.schema };
}

describe('the OpenAPI document', () => {
  it('has a servers entry, and every operation a unique operationId and a response schema', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([expect.objectContaining({ url: server.url })]);
    const ops = operations();
    expect(ops.length).toBeGreaterThan(100);
    const missingId = ops.filter((o) => !o.op.operationId).map((o) => `${o.method} ${o.path}`);
    expect(missingId).toEqual([]);
    const ids = ops.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const missingResponse = ops
      .filter((o) => !Object.entries<any>(o.op.responses ?? {}).some(([c, r]) => c.startsWith('2') && r.content && Object.values<any>(r.content).every((m) => m.schema)))
      .map((o) => `${o.method} ${o.path}`);
    expect(missingResponse).toEqual([]);
  });

  it('generates a typed client (openapi-typescript) that a call compiles against, and a wrong call does not', async () => {
    writeFileSync(path.join(dir, 'api.ts'), astToString(await openapiTS(doc)));
    writeFileSync(
      path.join(dir, 'call.ts'),
      `import type { paths, operations } from './api.ts';
type CreateDomain = paths['/v1/domains']['post'];
type Body = NonNullable<CreateDomain['requestBody']>['content']['application/json'];
type Domain = operations['createDomain']['responses'][201]['content']['application/json'];
type Sent = operations['sendEmail']['responses'][200]['content']['application/json'];

export async function firstSend(base: string, key: string): Promise<string> {
  const headers = { authorization: \`Bearer \${key}\`, 'content-type': 'application/json' };
  const body: Body = { name: 'typed.test' };
  const domain: Domain = await (await fetch(\`\${base}/v1/domains\`, { method: 'POST', headers, body: JSON.stringify(body) })).json();
  const firstStatus: string = domain.records[0].status;
  const sent: Sent = await (await fetch(\`\${base}/v1/emails\`, { method: 'POST', headers, body: JSON.stringify({ from: 'a@typed.test', to: 'b@example.org', subject: firstStatus, text: 'x' }) })).json();
  return sent.id;
}

// @ts-expect-error: a domain needs a name
export const wrongBody: Body = { nam: 'typed.test' };
// @ts-expect-error: records are objects, not strings
export const wrongField = (d: Domain): number => d.records[0].status;
`,
    );
    const program = ts.createProgram([path.join(dir, 'call.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      allowImportingTsExtensions: true,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      skipLibCheck: true,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });

  it('documents what the node really answers', async () => {
    const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
    const check = async (method: string, docPath: string, url: string, body?: unknown) => {
      const r = await api(server.url, method.toUpperCase(), url, { key, body });
      const { code, schema } = successSchema(docPath, method);
      expect(String(r.status), `${method} ${url}: ${r.text}`).toBe(code);
      const validate = ajv.compile(schema);
      expect(validate(r.json), `${method} ${url}: ${JSON.stringify(validate.errors)}`).toBe(true);
      return r.json;
    };
    const domain = await check('post', '/v1/domains', '/v1/domains', { name: 'shapes.test', capabilities: { receiving: 'enabled' } });
    await check('post', '/v1/domains/{id}/verify', `/v1/domains/${domain.id}/verify`);
    await check('get', '/v1/domains/{id}', `/v1/domains/${domain.id}`);
    await check('get', '/v1/domains', '/v1/domains');
    const sent = await check('post', '/v1/emails', '/v1/emails', { from: 'a@shapes.test', to: 'delivered@resend.dev', subject: 's', text: 't', tags: [{ name: 'k', value: 'v' }] });
    await check('get', '/v1/emails/{id}', `/v1/emails/${sent.id}`);
    await check('get', '/v1/emails', '/v1/emails');
    await check('get', '/v1/emails/metrics', '/v1/emails/metrics');
    await check('get', '/v1/api-keys', '/v1/api-keys');
    await check('post', '/v1/webhooks', '/v1/webhooks', { endpoint: 'http://127.0.0.1:9/hooks', events: ['email.sent'] });
    await check('get', '/v1/webhooks', '/v1/webhooks');
    await check('post', '/v1/suppressions', '/v1/suppressions', { email: 'no@example.org' });
    await check('get', '/v1/suppressions', '/v1/suppressions');
    await check('get', '/v1/workspace', '/v1/workspace');
    await check('get', '/v1/members', '/v1/members');
    await check('get', '/v1/audit-log', '/v1/audit-log');
    await check('get', '/v1/logs', '/v1/logs');
    const inbox = await check('post', '/v1/inboxes', '/v1/inboxes', { email_address: 'box@shapes.test' });
    await check('get', '/v1/inboxes/{id}', `/v1/inboxes/${inbox.id}`);
    await check('get', '/v1/inboxes', '/v1/inboxes');
    await check('get', '/v1/inboxes/{id}/threads', `/v1/inboxes/${inbox.id}/threads`);
    await check('get', '/v1/inboxes/{id}/labels', `/v1/inboxes/${inbox.id}/labels`);
    await check('get', '/v1/captured', '/v1/captured');
    await check('post', '/v1/aliases', '/v1/aliases', { address: 'alias@shapes.test', inbox_ids: [inbox.id] });
    await check('get', '/v1/aliases', '/v1/aliases');
    const seg = await check('post', '/v1/segments', '/v1/segments', { name: 'Shapes' });
    await check('post', '/v1/contact-properties', '/v1/contact-properties', { key: 'plan', type: 'string' });
    const contact = await check('post', '/v1/contacts', '/v1/contacts', { email: 'shape@example.org', first_name: null, segments: [{ id: seg.id }], properties: { plan: 'pro' } });
    await check('get', '/v1/contacts/{idOrEmail}', `/v1/contacts/${contact.id}`);
    await check('get', '/v1/contacts', '/v1/contacts');
    await check('get', '/v1/segments/{id}/contacts', `/v1/segments/${seg.id}/contacts`);
    const tpl = await check('post', '/v1/templates', '/v1/templates', { name: 'T', html: '<p>{{{X|x}}}</p>' });
    await check('get', '/v1/templates/{id}', `/v1/templates/${tpl.id}`);
    const b = await check('post', '/v1/broadcasts', '/v1/broadcasts', { segment_id: seg.id, from: 'a@shapes.test', subject: 's', text: 't' });
    await check('get', '/v1/broadcasts/{id}', `/v1/broadcasts/${b.id}`);
    await check('get', '/v1/broadcasts', '/v1/broadcasts');
  });
});
