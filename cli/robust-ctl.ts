// robust-ctl: the operator's command line for a RobustMQ cluster. This part speaks to a broker's
// admin HTTP API (`--server http://host:8080`); placement and journal commands come with their
// services. Returns the exit code instead of exiting, so tests run it in-process.
//
// Exit codes: 0 done, 1 the server is unreachable or answered an error, 2 bad usage.

import { parseArgs } from 'node:util';
import { isCodedError } from '../common/errors.js';
import { getJson, parseServerUrl } from './admin-client.js';
import { renderKeyValue, renderTable } from './table.js';
import { isSecurityCommand, runSecurityCommand, securityUsage } from './security-commands.js';

export interface CtlIo {
  out(text: string): void;
  err(text: string): void;
}

export interface CtlOptions {
  /** Per-request deadline; default 10 s. */
  readonly timeoutMs?: number;
  /** Server used when --server is not given; default http://127.0.0.1:8080. */
  readonly defaultServer?: string;
}

interface Command {
  readonly words: readonly string[];
  readonly path: string;
  readonly summary: string;
  /** Present for list commands: how to name the rows in the footer. */
  readonly rows?: { readonly one: string; readonly many: string };
}

const commands: readonly Command[] = [
  { words: ['mqtt', 'overview'], path: '/api/overview', summary: 'connections, sessions, subscriptions, retained and message counters' },
  { words: ['mqtt', 'client', 'list'], path: '/api/clients', summary: 'connected clients', rows: { one: 'client', many: 'clients' } },
  { words: ['mqtt', 'session', 'list'], path: '/api/sessions', summary: 'sessions, connected or not', rows: { one: 'session', many: 'sessions' } },
  { words: ['mqtt', 'subscribe', 'list'], path: '/api/subscriptions', summary: 'subscriptions', rows: { one: 'subscription', many: 'subscriptions' } },
  { words: ['mqtt', 'topic', 'list'], path: '/api/topics', summary: 'topics', rows: { one: 'topic', many: 'topics' } },
];

const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export function ctlUsage(): string {
  const width = Math.max(...commands.map((c) => c.words.join(' ').length));
  return [
    'Usage: robust-ctl <command> [--server URL] [--output table|json]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.words.join(' ').padEnd(width)}   ${c.summary}`),
    `  ${'journal ...'.padEnd(width)}   journal shards, writes and reads over gRPC (robust-ctl journal --help)`,
    `  ${'placement ...'.padEnd(width)}   placement status, kv set|get|delete over gRPC (robust-ctl placement --help)`,
    securityUsage,
    '',
    'Options:',
    `  --server URL        broker admin API (default ${DEFAULT_SERVER}; "host:port" works too)`,
    '  --output FORMAT     table (default) or json',
    '  -h, --help          show this help',
    '',
    'Exit codes: 0 done, 1 server unreachable or error answer, 2 bad usage.',
  ].join('\n');
}

export async function runCtl(args: readonly string[], io: CtlIo, options: CtlOptions = {}): Promise<number> {
  if (isSecurityCommand(args) && !args.includes('--help') && !args.includes('-h')) return runSecurityCommand(args, io, options);
  // Placement commands speak gRPC with their own options (cli/placement-ctl.ts).
  if (args[0] === 'placement') return (await import('./placement-ctl.js')).runPlacementCtl(args.slice(1), io);
  // `journal ...` has its own options and transport (gRPC): cli/journal-ctl.ts.
  if (args[0] === 'journal') return (await import('./journal-ctl.js')).runJournalCtl(args.slice(1), io, { timeoutMs: options.timeoutMs });
  const usageError = (message: string): number => {
    io.err(`robust-ctl: ${message}`);
    io.err(ctlUsage());
    return 2;
  };

  let values: { server?: string; output?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      options: {
        server: { type: 'string' },
        output: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err: unknown) {
    return usageError(err instanceof Error ? err.message : String(err));
  }

  if (values.help === true || (positionals.length === 1 && positionals[0] === 'help')) {
    io.out(ctlUsage());
    return 0;
  }
  if (positionals.length === 0) return usageError('missing command');
  const command = commands.find((c) => c.words.length === positionals.length && c.words.every((w, i) => w === positionals[i]));
  if (command === undefined) return usageError(`unknown command "${positionals.join(' ')}"`);

  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') return usageError(`--output must be table or json, got ${JSON.stringify(output)}`);
  const serverText = values.server ?? options.defaultServer ?? DEFAULT_SERVER;
  const server = parseServerUrl(serverText);
  if (server === undefined) return usageError(`--server must be an http(s) URL such as ${DEFAULT_SERVER}, got ${JSON.stringify(serverText)}`);

  let body: unknown;
  try {
    body = await getJson(server, command.path, { timeoutMs: options.timeoutMs });
  } catch (err: unknown) {
    io.err(`robust-ctl: ${isCodedError(err) ? err.message : err instanceof Error ? err.message : String(err)}`);
    return 1;
  }

  if (output === 'json') {
    io.out(JSON.stringify(body, null, 2));
    return 0;
  }
  if (command.rows === undefined) {
    if (!isObject(body)) return badShape(io, command, 'an object');
    io.out(renderKeyValue(body));
    return 0;
  }
  if (!Array.isArray(body) || !body.every(isObject)) return badShape(io, command, 'a list of objects');
  const noun = body.length === 1 ? command.rows.one : command.rows.many;
  io.out(body.length === 0 ? `no ${command.rows.many}` : `${renderTable(body)}\n${body.length} ${noun}`);
  return 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function badShape(io: CtlIo, command: Command, expected: string): number {
  io.err(`robust-ctl: ${command.path} answered with something other than ${expected}; try --output json to see it`);
  return 1;
}
