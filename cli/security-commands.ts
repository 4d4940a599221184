// robust-ctl's security commands, on the broker admin API:
//   mqtt user create --username U --password P [--superuser] | delete --username U | list
//   mqtt acl create --username U|--client-id C|--ip A|--all --action publish|subscribe|all
//                   --topic F --permission allow|deny [--qos 0,1] [--retain true|false] | delete --id N | list
//   mqtt blacklist create --type T --value V [--until ISO-TIME] [--reason R] | delete --type T --value V | list
//   mqtt flapping-detect

import { parseArgs } from 'node:util';
import { isCodedError } from '../common/errors.js';
import { parseServerUrl, requestJson } from './admin-client.js';
import { renderTable } from './table.js';

export interface SecurityIo {
  out(text: string): void;
  err(text: string): void;
}

const NOUNS = ['user', 'acl', 'blacklist', 'flapping-detect'] as const;
const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export const securityUsage = [
  '  mqtt user create --username U --password P [--superuser]   create a built-in user',
  '  mqtt user delete --username U | list                       delete / list built-in users',
  '  mqtt acl create (--username U | --client-id C | --ip A | --all) --action publish|subscribe|all',
  '                  --topic F --permission allow|deny [--qos 0,1] [--retain true|false]',
  '  mqtt acl delete --id N | list                              delete / list ACL rules',
  '  mqtt blacklist create --type client_id|username|ip|cidr|client_id_regex|username_regex',
  '                  --value V [--until ISO-TIME] [--reason R]',
  '  mqtt blacklist delete --type T --value V | list            delete / list blacklist entries',
  '  mqtt flapping-detect                                       client ids banned for flapping',
].join('\n');

/** Whether argv names one of these commands (the caller then hands it over). */
export function isSecurityCommand(args: readonly string[]): boolean {
  const words = args.filter((a) => !a.startsWith('-'));
  return words[0] === 'mqtt' && (NOUNS as readonly string[]).includes(words[1] ?? '');
}

const options = {
  server: { type: 'string' },
  output: { type: 'string', short: 'o' },
  username: { type: 'string' },
  password: { type: 'string' },
  superuser: { type: 'boolean' },
  'client-id': { type: 'string' },
  ip: { type: 'string' },
  all: { type: 'boolean' },
  action: { type: 'string' },
  topic: { type: 'string' },
  permission: { type: 'string' },
  qos: { type: 'string' },
  retain: { type: 'string' },
  id: { type: 'string' },
  type: { type: 'string' },
  value: { type: 'string' },
  until: { type: 'string' },
  reason: { type: 'string' },
} as const;

type Values = { [K in keyof typeof options]?: (typeof options)[K]['type'] extends 'boolean' ? boolean : string };

interface Plan {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  readonly done?: string;
}

function plan(noun: string, verb: string | undefined, v: Values): Plan | string {
  const need = (...names: (keyof Values)[]): string | null => {
    const missing = names.filter((n) => v[n] === undefined || v[n] === '');
    return missing.length === 0 ? null : `missing ${missing.map((n) => `--${n}`).join(', ')}`;
  };
  const enc = encodeURIComponent;
  switch (noun) {
    case 'flapping-detect':
      return verb === undefined || verb === 'list' ? { method: 'GET', path: '/api/mqtt/flapping-detect' } : `unknown verb "${verb}"`;
    case 'user':
      if (verb === 'list') return { method: 'GET', path: '/api/mqtt/users' };
      if (verb === 'create') {
        return need('username', 'password') ?? { method: 'POST', path: '/api/mqtt/users', body: { username: v.username, password: v.password, is_superuser: v.superuser === true }, done: `user ${v.username} created` };
      }
      if (verb === 'delete') return need('username') ?? { method: 'DELETE', path: `/api/mqtt/users/${enc(v.username!)}`, done: `user ${v.username} deleted` };
      break;
    case 'acl':
      if (verb === 'list') return { method: 'GET', path: '/api/mqtt/acl' };
      if (verb === 'create') {
        const missing = need('action', 'topic', 'permission');
        if (missing !== null) return missing;
        let qos: number[] | undefined;
        if (v.qos !== undefined) {
          qos = v.qos.split(',').map((q) => Number(q.trim()));
          if (!qos.every((q) => q === 0 || q === 1 || q === 2)) return '--qos must be a comma-separated list of 0, 1, 2';
        }
        let retain: boolean | undefined;
        if (v.retain !== undefined) {
          if (v.retain !== 'true' && v.retain !== 'false') return '--retain must be true or false';
          retain = v.retain === 'true';
        }
        return {
          method: 'POST', path: '/api/mqtt/acl',
          body: { username: v.username, client_id: v['client-id'], ip: v.ip, all: v.all === true ? true : undefined, action: v.action, topic: v.topic, permission: v.permission, qos, retain },
        };
      }
      if (verb === 'delete') return need('id') ?? { method: 'DELETE', path: `/api/mqtt/acl/${enc(v.id!)}`, done: `ACL rule ${v.id} deleted` };
      break;
    case 'blacklist':
      if (verb === 'list') return { method: 'GET', path: '/api/mqtt/blacklist' };
      if (verb === 'create') {
        return need('type', 'value') ?? { method: 'POST', path: '/api/mqtt/blacklist', body: { type: v.type, value: v.value, until: v.until, reason: v.reason }, done: `blacklisted ${v.type} ${v.value}` };
      }
      if (verb === 'delete') return need('type', 'value') ?? { method: 'DELETE', path: `/api/mqtt/blacklist/${enc(v.type!)}/${enc(v.value!)}`, done: `blacklist entry ${v.type} ${v.value} deleted` };
      break;
  }
  return verb === undefined ? `mqtt ${noun} needs a verb: create, delete or list` : `unknown command "mqtt ${noun} ${verb}"`;
}

export async function runSecurityCommand(args: readonly string[], io: SecurityIo, opts: { timeoutMs?: number; defaultServer?: string } = {}): Promise<number> {
  const usage = (message: string): number => {
    io.err(`robust-ctl: ${message}`);
    io.err(securityUsage);
    return 2;
  };
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...args], options, strict: true, allowPositionals: true }) as { values: Values; positionals: string[] });
  } catch (err: unknown) {
    return usage(err instanceof Error ? err.message : String(err));
  }
  if (positionals.length > 3) return usage(`unexpected "${positionals.slice(3).join(' ')}"`);
  const p = plan(positionals[1]!, positionals[2], values);
  if (typeof p === 'string') return usage(p);
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') return usage(`--output must be table or json, got ${JSON.stringify(output)}`);
  const serverText = values.server ?? opts.defaultServer ?? DEFAULT_SERVER;
  const server = parseServerUrl(serverText);
  if (server === undefined) return usage(`--server must be an http(s) URL such as ${DEFAULT_SERVER}, got ${JSON.stringify(serverText)}`);
  let body: unknown;
  try {
    body = await requestJson(server, p.method, p.path, p.body, { timeoutMs: opts.timeoutMs });
  } catch (err: unknown) {
    io.err(`robust-ctl: ${isCodedError(err) ? err.message : err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  if (output === 'json') {
    io.out(JSON.stringify(body ?? null, null, 2));
    return 0;
  }
  if (Array.isArray(body)) {
    const rows = body.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null);
    io.out(rows.length === 0 ? 'none' : `${renderTable(rows)}\n${rows.length} ${rows.length === 1 ? 'entry' : 'entries'}`);
  } else if (p.done !== undefined) {
    io.out(p.done);
  } else {
    io.out(renderTable([body as Record<string, unknown>]));
  }
  return 0;
}
