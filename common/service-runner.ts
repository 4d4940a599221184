// The shared `X start [--config FILE] [--set key.path=value]...` front end of the three services
// (DESIGN.md section 6): argument parsing, config loading, the `listening` lines on stdout,
// start-up failure reporting and signal-driven shutdown. Returns the process exit code instead of
// exiting, so tests drive it in-process with their own io.
//
// Exit codes: 0 clean stop or help; 1 start-up failure, failed close or a second signal;
// 2 bad arguments, bad configuration, or a service that is not built yet.

import { parseArgs } from 'node:util';
import { isCodedError } from './errors.js';
import { ConfigError, formatConfigKeys, loadConfig, type ConfigOf, type ConfigSchema } from './config/index.js';
import { createLogger, type Logger, type LogLevel, type LoggerOptions } from './log.js';

export interface Listener {
  /** e.g. `mqtt-tcp`, `admin`; printed in the `listening` line. */
  readonly name: string;
  readonly host: string;
  /** The bound port (never 0: port 0 in config is resolved by the time this is reported). */
  readonly port: number;
}

export interface StartedService {
  readonly listeners: readonly Listener[];
  /** Stop accepting work, flush state, release files and ports. */
  close(): Promise<void>;
}

export interface ServiceIo {
  /** One line to stdout (no trailing newline). */
  out(line: string): void;
  /** One line to stderr (no trailing newline). */
  err(line: string): void;
  /** Calls `handler` on SIGTERM and SIGINT until the returned function is called. */
  onSignal(handler: (signal: string) => void): () => void;
  /** Sink for the service's logger; default: stderr. */
  log?: LoggerOptions['write'];
}

export interface ServiceDefinition<S extends ConfigSchema> {
  /** The command name: `broker`, `placement`, `journal`. */
  readonly name: string;
  /** One line for the help text. */
  readonly summary: string;
  readonly schema: S;
  /** Shipped default file, shown in the help text. */
  readonly defaultConfigFile: string;
  /** Absent: the service is not built yet; `start` validates the config, says so and exits 2. */
  readonly start?: (config: ConfigOf<S>, log: Logger) => Promise<StartedService>;
}

type Parsed =
  | { kind: 'help' }
  | { kind: 'usage-error'; message: string }
  | { kind: 'start'; file?: string; sets: string[] };

export function parseServiceArgs(args: readonly string[]): Parsed {
  if (args.length === 0) return { kind: 'usage-error', message: 'missing command' };
  const [command, ...rest] = args;
  if (command === '--help' || command === '-h' || command === 'help') return { kind: 'help' };
  if (command !== 'start') return { kind: 'usage-error', message: `unknown command ${JSON.stringify(command)}` };
  try {
    const { values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string' },
        set: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help === true) return { kind: 'help' };
    return { kind: 'start', file: values.config, sets: values.set ?? [] };
  } catch (err: unknown) {
    return { kind: 'usage-error', message: err instanceof Error ? err.message : String(err) };
  }
}

export function serviceUsage<S extends ConfigSchema>(def: ServiceDefinition<S>): string {
  return [
    `Usage: ${def.name} start [--config FILE] [--set key.path=value]...`,
    '',
    def.summary,
    '',
    'Options:',
    `  --config FILE          TOML config file (${def.defaultConfigFile} lists every key); without it the defaults below apply`,
    '  --set key.path=value   override one key, repeatable; the value is read as TOML when it is one',
    '                         (1883, true, ["a:1","b:2"], "x"), else as a plain string (--set data_dir=/tmp/d)',
    '  -h, --help             show this help',
    '',
    'Config keys (with defaults):',
    formatConfigKeys(def.schema),
    '',
    'Exit codes: 0 stopped cleanly, 1 failed to start or stop, 2 bad arguments or configuration.',
  ].join('\n');
}

export function processIo(): ServiceIo {
  return {
    out: (line) => void process.stdout.write(line + '\n'),
    err: (line) => void process.stderr.write(line + '\n'),
    onSignal(handler) {
      const listener = (signal: NodeJS.Signals): void => handler(signal);
      process.on('SIGTERM', listener);
      process.on('SIGINT', listener);
      return () => {
        process.off('SIGTERM', listener);
        process.off('SIGINT', listener);
      };
    },
  };
}

export async function runService<S extends ConfigSchema>(
  def: ServiceDefinition<S>,
  args: readonly string[],
  io: ServiceIo = processIo(),
): Promise<number> {
  const parsed = parseServiceArgs(args);
  if (parsed.kind === 'help') {
    io.out(serviceUsage(def));
    return 0;
  }
  if (parsed.kind === 'usage-error') {
    io.err(`${def.name}: ${parsed.message}`);
    io.err(`Usage: ${def.name} start [--config FILE] [--set key.path=value]...   (${def.name} --help for every key)`);
    return 2;
  }

  let config: ConfigOf<S>;
  try {
    config = loadConfig(def.schema, { file: parsed.file, sets: parsed.sets });
  } catch (err: unknown) {
    if (err instanceof ConfigError) {
      io.err(`${def.name}: ${err.message}`);
      return 2;
    }
    throw err;
  }

  if (def.start === undefined) {
    io.err(`${def.name}: not built yet`);
    return 2;
  }

  const level = (config as { log?: { level?: LogLevel } }).log?.level ?? 'info';
  const log = createLogger(level, def.name, { write: io.log });

  // Signals are watched from before start so that a SIGTERM during start-up still stops cleanly.
  let signals = 0;
  let onStopRequest: ((signal: string) => void) | undefined;
  let firstSignal: string | undefined;
  let forceExit: ((code: number) => void) | undefined;
  const forced = new Promise<number>((resolve) => (forceExit = resolve));
  const unsubscribe = io.onSignal((signal) => {
    signals++;
    if (signals === 1) {
      firstSignal = signal;
      onStopRequest?.(signal);
    } else {
      log.warn('second signal, exiting without finishing shutdown', { signal });
      forceExit?.(1);
    }
  });

  try {
    const run = async (): Promise<number> => {
      let service: StartedService;
      try {
        service = await def.start!(config, log);
      } catch (err: unknown) {
        io.err(`${def.name}: failed to start: ${describeStartupError(err)}`);
        log.debug('start-up failure', { err });
        return 1;
      }
      for (const l of service.listeners) io.out(`listening ${l.name} ${l.host}:${l.port}`);

      const signal = await new Promise<string>((resolve) => {
        if (firstSignal !== undefined) resolve(firstSignal);
        else onStopRequest = resolve;
      });
      log.info('stopping', { signal });
      try {
        await service.close();
      } catch (err: unknown) {
        io.err(`${def.name}: failed to stop cleanly: ${describeStartupError(err)}`);
        return 1;
      }
      log.info('stopped');
      return 0;
    };
    return await Promise.race([run(), forced]);
  } finally {
    unsubscribe();
  }
}

/** One line that tells an operator what went wrong, without a stack trace. */
export function describeStartupError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: unknown; address?: unknown; port?: unknown; syscall?: unknown; path?: unknown };
  const where = typeof e.address === 'string' && typeof e.port === 'number' ? `${e.address}:${e.port}` : undefined;
  let text: string;
  if (e.code === 'EADDRINUSE' && where !== undefined) text = `${where} is already in use`;
  else if (e.code === 'EACCES' && e.syscall === 'listen' && where !== undefined) text = `not permitted to listen on ${where}`;
  else if (e.code === 'EADDRNOTAVAIL' && typeof e.address === 'string') text = `address ${e.address} is not available on this machine`;
  else if (isCodedError(err)) text = `${err.message} [${err.code}]`;
  else text = e.message;
  return text.replace(/\s*\n\s*/g, '; ');
}
