// A throwaway S3-protocol server for tests and benchmarks: s3rver (filesystem-backed) in a child
// process on a free loopback port, with a temp directory, its own random key pair and one bucket.
// A child process rather than in-process, so a test can kill it with SIGKILL mid-request.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface S3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  pid: number;
  /** SIGKILL: the server vanishes mid-request (for failure tests); stop() still cleans up. */
  kill(): void;
  /** Kills the server if it runs, then starts it again on the same directory and port. */
  restart(): Promise<void>;
  /** Kills the server (if running) and removes its directory. */
  stop(): Promise<void>;
}

// The child's program, passed with -e so it runs the same from sources (tests) and from dist/
// (benchmarks). It prints one JSON line {"port": N} once it listens. s3rver is a devDependency,
// resolved here, where node_modules is known.
const CHILD = `
const { default: S3rver } = await import(process.env.S3RVER_URL);
const { default: account } = await import(process.env.S3RVER_ACCOUNT_URL);
const { S3_DIR: directory, S3_BUCKET: bucket, S3_ACCESS_KEY: accessKey, S3_SECRET_KEY: secretKey } = process.env;
// s3rver knows one built-in key pair; give this run its own, so signatures are really checked.
account.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
account.DUMMY_ACCOUNT.createKeyPair(accessKey, secretKey);
const server = new S3rver({ address: '127.0.0.1', port: Number(process.env.S3_PORT ?? 0), silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
const addr = await server.run();
process.stdout.write(JSON.stringify({ port: addr.port }) + '\\n');
process.on('SIGTERM', () => { server.close().finally(() => process.exit(0)); });
`;

function s3rverUrls(): { S3RVER_URL: string; S3RVER_ACCOUNT_URL: string } {
  const require = createRequire(import.meta.url);
  return {
    S3RVER_URL: pathToFileURL(require.resolve('s3rver')).href,
    S3RVER_ACCOUNT_URL: pathToFileURL(require.resolve('s3rver/lib/models/account.js')).href,
  };
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export async function startS3Server(opts: { bucket?: string; startTimeoutMs?: number } = {}): Promise<S3Server> {
  const dir = await mkdtemp(join(tmpdir(), 'rmq-s3rver-'));
  const bucket = opts.bucket ?? 'robustmq-test';
  const accessKey = `AK${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretKey = randomBytes(20).toString('base64url');

  /** Starts s3rver on the directory; resolves with its port once it listens. */
  const launch = async (port: number): Promise<{ proc: ChildProcess; port: number }> => {
    const proc = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
      env: { ...process.env, ...s3rverUrls(), S3_DIR: dir, S3_BUCKET: bucket, S3_ACCESS_KEY: accessKey, S3_SECRET_KEY: secretKey, S3_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(proc);
    installExitHook();
    proc.once('exit', () => live.delete(proc));
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    try {
      const bound = await new Promise<number>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`s3rver did not start in time; stderr:\n${stderr}`)), opts.startTimeoutMs ?? 20_000);
        proc.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line === undefined) return;
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        });
        proc.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`s3rver exited during startup (code ${String(code)}, signal ${String(signal)}); stderr:\n${stderr}`));
        });
      });
      return { proc, port: bound };
    } catch (e: unknown) {
      proc.kill('SIGKILL');
      throw e;
    }
  };

  const stopProc = async (proc: ChildProcess): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await gone;
  };

  let running: ChildProcess | null = null;
  try {
    const first = await launch(0);
    running = first.proc;
    const port = first.port;
    const server: S3Server = {
      endpoint: `http://127.0.0.1:${port}`,
      accessKey,
      secretKey,
      bucket,
      pid: first.proc.pid ?? -1,
      kill() {
        if (running !== null && running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
      },
      async restart() {
        if (running !== null) await stopProc(running);
        running = null;
        const again = await launch(port);
        running = again.proc;
        server.pid = again.proc.pid ?? -1;
      },
      async stop() {
        if (running !== null) await stopProc(running);
        running = null;
        await rm(dir, { recursive: true, force: true });
      },
    };
    return server;
  } catch (e: unknown) {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}
