// /metrics on a listener of its own (MAILSTACK_METRICS_ADDRESS, e.g. 127.0.0.1:9464): scraped on
// a private interface, away from the public API port. MAILSTACK_METRICS_TOKEN still applies.
import http from 'node:http';
import type { Core } from '../core/core.ts';
import { metricsAuthorized, metricsOf } from './metrics.ts';

export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

export async function startMetricsListener(core: Core, address: { host: string; port: number }): Promise<MetricsListener> {
  const registry = metricsOf(core).registry;
  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type }).end(body);
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      return send(404, 'application/json', JSON.stringify({ statusCode: 404, name: 'not_found', message: 'Only GET /metrics is served here.' }));
    }
    if (!metricsAuthorized(core, req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="metrics"');
      return send(401, 'application/json', JSON.stringify({ statusCode: 401, name: 'missing_api_key', message: 'Metrics need `Authorization: Bearer <MAILSTACK_METRICS_TOKEN>`.' }));
    }
    registry.metrics().then(
      (text) => send(200, registry.contentType, text),
      (err) => {
        core.log.error({ err }, 'rendering metrics failed');
        send(500, 'application/json', JSON.stringify({ statusCode: 500, name: 'internal_server_error', message: 'Metrics could not be rendered. It has been logged.' }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(Object.assign(err, { port: address.port })));
    server.listen(address.port, address.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
