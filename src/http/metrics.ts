// The HTTP door's metrics (requests by route and status, latency), on the node's registry
// (src/metrics/metrics.ts), and the guard of /metrics: MAILSTACK_METRICS_TOKEN as a bearer token.
import { Counter, Histogram } from 'prom-client';
import type { Core } from '../core/core.ts';
import { metricsOf } from '../metrics/metrics.ts';

const byCore = new WeakMap<Core, ReturnType<typeof create>>();

function create(core: Core) {
  const registry = metricsOf(core).registry;
  const requests = new Counter({
    name: 'mailstack_http_requests_total',
    help: 'HTTP requests by route, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'mailstack_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    registry,
    observe(route: string, method: string, status: number, seconds: number) {
      requests.inc({ route, method, status: String(status) });
      latency.observe({ route, method }, seconds);
    },
  };
}

export function createMetrics(core: Core) {
  let m = byCore.get(core);
  if (!m) byCore.set(core, (m = create(core)));
  return m;
}

export { metricsAuthorized } from '../metrics/metrics.ts';
