// `mailstack start` as a real child process, for the durability tests that kill it with SIGKILL
// and start it again on the same data folder and database (src/inbound/durability.test.ts,
// src/outbound/delivery/crash.test.ts). spawnCli turns every mail door off unless the env opens it.
import type { ChildProcess } from 'node:child_process';
import pino from 'pino';
import { loadSettings } from '../config/settings.ts';
import type { Core } from '../core/core.ts';
import { until } from './remote-mx.ts';
import { openCore } from '../platform.ts';
import { freePort, spawnCli } from './server.ts';
import type { TestDatabase } from './store.ts';

export interface NodeProcess {
  child: ChildProcess;
  /** Resolves when the process has exited (by any signal). */
  exited: Promise<unknown>;
}

/** The settings of a node on this test database, on loopback, plus `extra`. */
export function nodeEnv(db: TestDatabase, extra: Record<string, string>): Record<string, string> {
  return { MAILSTACK_DATA_DIR: db.dataDir, MAILSTACK_DATABASE_URL: db.url, MAILSTACK_HOSTNAME: 'mailstack.test', MAILSTACK_LISTEN_ADDRESS: '127.0.0.1', ...extra };
}

/** The test's own handle on the node's database and data folder, as a CLI command would open it. */
export function openCoreOf(env: Record<string, string>): Promise<Core> {
  return openCore(loadSettings(env), pino({ level: 'silent' }));
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

/** Starts and tracks `mailstack start` processes on one set of settings. */
export class NodeProcesses {
  private readonly started: NodeProcess[] = [];

  constructor(private readonly env: Record<string, string>) {}

  /** Starts a node (its HTTP door on a free port) and waits until it answers /healthz. */
  async start(): Promise<NodeProcess> {
    const httpPort = await freePort();
    const child = spawnCli(['start'], { ...this.env, MAILSTACK_HTTP_PORT: String(httpPort) });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    this.started.push({ child, exited });
    await until(
      'mailstack start to answer /healthz',
      async () => {
        if (child.exitCode !== null) throw new Error(`mailstack start exited with ${child.exitCode}:\n${out}`);
        return healthy(`http://127.0.0.1:${httpPort}`);
      },
      90_000,
    );
    return { child, exited };
  }

  /** SIGTERM to every node still running, and wait for each to exit. */
  async stopAll(): Promise<void> {
    for (const c of this.started) {
      if (c.child.exitCode === null && c.child.signalCode === null) {
        c.child.kill('SIGTERM');
        await c.exited;
      }
    }
  }
}
