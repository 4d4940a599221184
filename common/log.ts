// A small leveled logger. One line per event on stderr:
//   2025-01-31T12:00:00.000Z INFO  broker.admin listening {"port":8080}
// stdout stays reserved for the `listening <name> <host>:<port>` lines that scripts parse.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** `silent` turns a logger off (tests); it is not a config value. */
export type LoggerLevel = LogLevel | 'silent';

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  readonly level: LoggerLevel;
  readonly name: string;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  isEnabled(level: LogLevel): boolean;
  /** A logger for a sub-component: `broker` -> `broker.admin`. Same level and sink. */
  child(component: string): Logger;
}

export interface LoggerOptions {
  /** Where finished lines go (without the trailing newline); default: process.stderr. */
  write?: (line: string) => void;
  /** Clock for the timestamp; default Date.now. */
  now?: () => number;
}

const rank: Record<LoggerLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const label: Record<LogLevel, string> = { debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR' };

export function isLoggerLevel(value: unknown): value is LoggerLevel {
  return typeof value === 'string' && Object.hasOwn(rank, value);
}

export function createLogger(level: LoggerLevel, name: string, options: LoggerOptions = {}): Logger {
  if (!isLoggerLevel(level)) throw new TypeError(`unknown log level ${JSON.stringify(level)}`);
  const write = options.write ?? ((line: string) => void process.stderr.write(line + '\n'));
  const now = options.now ?? Date.now;
  const threshold = rank[level];

  const emit = (at: LogLevel, message: string, fields: LogFields | undefined): void => {
    if (rank[at] < threshold) return;
    let line = `${new Date(now()).toISOString()} ${label[at]} ${name} ${oneLine(message)}`;
    if (fields !== undefined && Object.keys(fields).length > 0) line += ' ' + encodeFields(fields);
    write(line);
  };

  return {
    level,
    name,
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    isEnabled: (at) => rank[at] >= threshold,
    child: (component) => createLogger(level, `${name}.${component}`, { write, now }),
  };
}

/** A logger that drops everything, for code paths and tests that need one but not its output. */
export const silentLogger: Logger = createLogger('silent', 'silent');

// A message with a newline would break "one line per event" for anything that reads the log.
function oneLine(text: string): string {
  return text.replace(/\r?\n/g, '\\n');
}

function encodeFields(fields: LogFields): string {
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(fields, function (this: Record<string, unknown>, key: string, value: unknown) {
      // `value` has already been through toJSON (a Buffer arrives as {type, data}); `raw` has not.
      const raw = this[key];
      if (Buffer.isBuffer(raw)) return `<${raw.length} bytes>`;
      if (value instanceof Error) return describeError(value);
      if (typeof value === 'bigint') return value.toString();
      if (typeof value === 'object' && value !== null) {
        if (seen.has(value)) return '[circular]';
        seen.add(value);
      }
      return value;
    });
  } catch (err: unknown) {
    return JSON.stringify({ unserializableFields: err instanceof Error ? err.message : String(err) });
  }
}

function describeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.stack !== undefined) out.stack = err.stack;
  if (err.cause !== undefined) out.cause = err.cause instanceof Error ? describeError(err.cause) : err.cause;
  return out;
}
