// A throwaway MariaDB server for tests: a fresh data directory in the OS temp dir, `mariadbd` as a
// child process on a free loopback port, a database and a password user created through the root
// account's Unix socket. Works on a Debian machine where the `mariadb-server` package is installed
// but no service runs (no systemd, no /etc/mysql config is read: --no-defaults everywhere).
//
// Durability settings are MariaDB's defaults (innodb_flush_log_at_trx_commit=1: a commit is
// fsynced), so the mysql driver's durability is tested as a user would run it; only sizes are
// reduced (buffer pool, redo log) to start fast and use little memory.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import { freePort } from './free-port.js';

export interface MariaDbServer {
  /** mysql://robustmq:<password>@127.0.0.1:<port>/rmq_main */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** PID of the mariadbd process. */
  pid: number;
  /** Creates an empty database the user may use and returns its URL. */
  createDatabase(): Promise<string>;
  /** Runs a statement as root (server settings for a test, e.g. SET GLOBAL). */
  adminQuery(sql: string): Promise<unknown>;
  /** SIGKILL: the server vanishes mid-whatever (for failure tests); stop() still cleans up. */
  kill(): void;
  /** Kills the server if it runs, then starts it again on the same data directory and port. */
  restart(): Promise<void>;
  /** Kills the server (if running) and removes its data directory. */
  stop(): Promise<void>;
}

export interface MariaDbOptions {
  /** Startup deadline in ms (default 60 s: the first start on a cold disk is slow). */
  startTimeoutMs?: number;
}

/**
 * The server accepts packets up to this size. The mysql driver sends each message in one
 * statement, so this bounds the largest storable message (README.md of broker/storage).
 */
export const MARIADB_MAX_ALLOWED_PACKET = '64M';

const SEARCH_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/usr/local/mysql/bin'];

function findBinary(names: readonly string[]): string | null {
  const dirs = [...SEARCH_DIRS, ...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '')];
  for (const name of names) for (const dir of dirs) if (existsSync(join(dir, name))) return join(dir, name);
  return null;
}

function run(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
// A test run that crashes must not leave servers behind.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

async function tail(path: string, lines = 30): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no error log)';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Running {
  proc: ChildProcess;
  admin: Connection;
}

export async function startMariaDb(opts: MariaDbOptions = {}): Promise<MariaDbServer> {
  const mariadbd = findBinary(['mariadbd', 'mysqld']);
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db']);
  if (mariadbd === null || installDb === null) {
    throw new Error(
      `MariaDB server binaries not found (mariadbd and mariadb-install-db in ${SEARCH_DIRS.join(', ')} or PATH): ` +
        'install mariadb-server (apt-get install mariadb-server)',
    );
  }
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const dir = await mkdtemp(join(tmpdir(), 'rmq-mariadb-'));
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'sock');
  const errorLog = join(dir, 'error.log');
  const asRoot = process.getuid?.() === 0;
  // mariadbd refuses to run as root unless told to: the sandbox's root is our only user.
  const userArgs = asRoot ? ['--user=root'] : [];
  const sizeArgs = ['--innodb-buffer-pool-size=16M', '--innodb-log-file-size=8M', '--innodb-file-per-table=0'];

  /** Starts mariadbd on the data directory; resolves once root can connect over the socket. */
  const launch = async (port: number): Promise<Running | { failed: string }> => {
    const deadline = Date.now() + startTimeoutMs;
    const proc = spawn(
      mariadbd,
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${socket}`,
        `--pid-file=${join(dir, 'mariadbd.pid')}`,
        `--log-error=${errorLog}`,
        '--skip-log-bin',
        '--skip-name-resolve',
        `--max-allowed-packet=${MARIADB_MAX_ALLOWED_PACKET}`,
        '--loose-feedback=OFF',
        ...userArgs,
        ...sizeArgs,
      ],
      { stdio: 'ignore' },
    );
    live.add(proc);
    installExitHook();
    let exited: string | null = null;
    proc.once('exit', (code, signal) => {
      exited = `exit code ${String(code)}, signal ${String(signal)}`;
      live.delete(proc);
    });
    for (;;) {
      if (exited !== null) return { failed: exited };
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`mariadbd did not accept connections in ${startTimeoutMs} ms; error log:\n${await tail(errorLog)}`);
      }
      try {
        const admin = await createConnection({ socketPath: socket, user: 'root', connectTimeout: 2000 });
        // The server may be killed on purpose later: a dead admin connection must not throw.
        admin.on('error', () => undefined);
        return { proc, admin };
      } catch {
        await sleep(50);
      }
    }
  };

  const stopProc = async (proc: ChildProcess): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await gone;
  };

  let running: Running | null = null;
  try {
    await run(installDb, [
      '--no-defaults',
      `--datadir=${dataDir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
      ...userArgs,
      ...sizeArgs,
    ]);
    let port = 0;
    // A port found free can be taken before mariadbd binds it: try a few.
    for (let attempt = 1; running === null; attempt++) {
      port = await freePort();
      const r = await launch(port);
      if ('proc' in r) {
        running = r;
        break;
      }
      const log = await tail(errorLog);
      if (attempt < 4 && /bind on tcp\/ip port|address already in use/i.test(log)) continue;
      throw new Error(`mariadbd exited during startup (${r.failed}); error log:\n${log}`);
    }
    const user = 'robustmq';
    const password = randomBytes(12).toString('hex');
    const host = '127.0.0.1';
    let dbCounter = 0;
    const urlOf = (db: string): string => `mysql://${user}:${password}@${host}:${port}/${db}`;
    await running.admin.query(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'`);
    // Every database named rmq_* belongs to the test user, and nothing else.
    await running.admin.query(`GRANT ALL PRIVILEGES ON \`rmq\\_%\`.* TO '${user}'@'127.0.0.1'`);
    const createDatabase = async (): Promise<string> => {
      if (running === null) throw new Error('the MariaDB server is not running');
      const name = `rmq_${++dbCounter}`;
      await running.admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4`);
      return urlOf(name);
    };
    const url = await createDatabase();
    const server: MariaDbServer = {
      url,
      host,
      port,
      user,
      password,
      database: new URL(url).pathname.slice(1),
      pid: running.proc.pid ?? -1,
      createDatabase,
      async adminQuery(sql) {
        if (running === null) throw new Error('the MariaDB server is not running');
        return (await running.admin.query(sql))[0];
      },
      kill() {
        const proc = running?.proc;
        if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      },
      async restart() {
        if (running !== null) {
          running.admin.destroy();
          await stopProc(running.proc);
          running = null;
        }
        const r = await launch(port);
        if (!('proc' in r)) throw new Error(`mariadbd exited during restart (${r.failed}); error log:\n${await tail(errorLog)}`);
        running = r;
        server.pid = r.proc.pid ?? -1;
      },
      async stop() {
        if (running !== null) {
          running.admin.destroy();
          await stopProc(running.proc);
          running = null;
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
    return server;
  } catch (e: unknown) {
    if (running !== null) {
      running.admin.destroy();
      await stopProc(running.proc);
    }
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}
