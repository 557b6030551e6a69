// Prometheus metrics: HTTP requests by route and status, request latency, job queue depth.
// One registry per server so several servers in one test process do not collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Core } from '../core/core.ts';

export function createMetrics(core: Core) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mailstack_' });
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
  new Gauge({
    name: 'mailstack_jobs',
    help: 'Jobs in the durable queue by status (queued, running, dead)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const depth = await core.jobs.depth();
      for (const [status, n] of Object.entries(depth)) this.set({ status }, n);
    },
  });
  return {
    registry,
    observe(route: string, method: string, status: number, seconds: number) {
      requests.inc({ route, method, status: String(status) });
      latency.observe({ route, method }, seconds);
    },
  };
}
