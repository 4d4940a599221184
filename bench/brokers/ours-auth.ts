import { randomBytes } from 'node:crypto';
import { BenchError, ConnackRefusedError, errorMessage } from '../loadgen/errors.js';
import { MqttConnection, type Credentials } from '../loadgen/mqtt-connection.js';
import { makePublishTemplate } from '../loadgen/publish-template.js';

/**
 * The `ours-auth` target: our broker as production runs it (issue 7), not as the quick start
 * does. Anonymous clients are refused and a topic no rule covers is denied; every bench client
 * logs in as one built-in user, and a handful of ACL rules, deny rules first, are walked on every
 * first PUBLISH to a topic and every SUBSCRIBE.
 */
export const OURS_AUTH_SETTINGS: readonly string[] = ['auth.allow_anonymous=false', 'acl.no_match=deny'];

export const BENCH_USERNAME = 'bench-device';

/** One `POST /api/mqtt/acl` body. */
export interface AclRuleBody {
  username?: string;
  all?: true;
  action: 'publish' | 'subscribe' | 'all';
  permission: 'allow' | 'deny';
  topic: string;
}

/**
 * In order (first match wins). The deny rules name topics the scenarios never use, so the
 * results do not change, but a decision has to pass them: wildcard filters that share the
 * `bench/` prefix, so matching is not settled at the first level. Every scenario topic is
 * `bench/<name>` or `bench/retained/<i>`, covered by the two allow rules; anything else falls
 * to `acl.no_match = deny`.
 */
export const BENCH_ACL_RULES: readonly AclRuleBody[] = [
  { all: true, action: 'all', permission: 'deny', topic: '$SYS/#' },
  { all: true, action: 'publish', permission: 'deny', topic: 'devices/+/config' },
  { all: true, action: 'publish', permission: 'deny', topic: 'bench/+/admin/#' },
  { username: BENCH_USERNAME, action: 'subscribe', permission: 'deny', topic: 'bench/private/#' },
  { username: BENCH_USERNAME, action: 'publish', permission: 'allow', topic: 'bench/#' },
  { username: BENCH_USERNAME, action: 'subscribe', permission: 'allow', topic: 'bench/#' },
];

export interface Endpoint {
  host: string;
  port: number;
}

/** The embedded placement may still be electing its leader when the listeners are up. */
const ADMIN_READY_MS = 15_000;
const PROBE_TOPIC = 'bench/auth-probe';
/** A filter the rules refuse (the `bench/private/#` deny precedes the `bench/#` allow). */
const DENIED_FILTER = 'bench/private/#';

/**
 * Creates the bench user and the ACL rules through the admin API, then proves the setup with
 * real clients: an anonymous CONNECT is refused, the user's CONNECT is accepted, a denied filter
 * is refused, and a publish on an allowed topic reaches an allowed subscription. Returns the
 * credentials every bench client must send.
 *
 * The proving CONNECT is also the user's first successful login, so the broker's cache of
 * successful password checks (`auth.cache_ttl`, 30 s by default) holds it when a scenario starts:
 * the runs measure the steady state of one shared user, not the first pbkdf2 check.
 */
export async function configureOursAuth(admin: Endpoint, mqtt: Endpoint): Promise<Credentials> {
  const base = `http://${admin.host.includes(':') ? `[${admin.host}]` : admin.host}:${admin.port}`;
  const credentials: Credentials = { username: BENCH_USERNAME, password: randomBytes(18).toString('base64url') };
  await postUntilReady(`${base}/api/mqtt/users`, { username: credentials.username, password: credentials.password, is_superuser: false });
  for (const rule of BENCH_ACL_RULES) await post(`${base}/api/mqtt/acl`, rule);
  await proveSetup(mqtt, credentials);
  return credentials;
}

async function post(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new BenchError('BENCH_AUTH_SETUP', `POST ${new URL(url).pathname} ${JSON.stringify(body)}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

/** Retries the first write while the broker answers 5xx (placement not ready); 4xx fails at once. */
async function postUntilReady(url: string, body: unknown): Promise<void> {
  const until = performance.now() + ADMIN_READY_MS;
  for (;;) {
    try {
      await post(url, body);
      return;
    } catch (err: unknown) {
      const retriable = !(err instanceof BenchError) || / HTTP 5\d\d /.test(err.message);
      if (!retriable || performance.now() >= until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function proveSetup(mqtt: Endpoint, credentials: Credentials): Promise<void> {
  const id = `bench-auth-probe-${process.pid}`;
  // [MQTT-3.2.2.3] return code 5: not authorized.
  const anonymous = await MqttConnection.open({ host: mqtt.host, port: mqtt.port, clientId: `${id}-anon` }).then(
    (c) => {
      c.destroy();
      return 'accepted';
    },
    (err: unknown) => (err instanceof ConnackRefusedError ? err.returnCode : errorMessage(err)),
  );
  if (anonymous !== 5) {
    throw new BenchError('BENCH_AUTH_SETUP', `an anonymous CONNECT should get return code 5 (not authorized), got: ${anonymous}`);
  }

  let echoed = false;
  let conn: MqttConnection;
  try {
    conn = await MqttConnection.open(
      { host: mqtt.host, port: mqtt.port, clientId: id, credentials },
      { onPublish: () => { echoed = true; } },
    );
  } catch (err: unknown) {
    throw new BenchError('BENCH_AUTH_SETUP', `the bench user could not connect: ${errorMessage(err)}`);
  }
  try {
    const [denied] = await conn.subscribe([{ topic: DENIED_FILTER, qos: 0 }]);
    if (denied !== 0x80) throw new BenchError('BENCH_AUTH_SETUP', `SUBSCRIBE to ${DENIED_FILTER} was granted (${denied}): the ACL rules did not take effect`);
    const [granted] = await conn.subscribe([{ topic: PROBE_TOPIC, qos: 0 }]);
    if (granted !== 0) throw new BenchError('BENCH_AUTH_SETUP', `SUBSCRIBE to ${PROBE_TOPIC} was refused (${granted})`);
    conn.writePublishes(makePublishTemplate(PROBE_TOPIC, 0, 16).bytes, 1);
    const until = performance.now() + 5_000;
    while (!echoed && !conn.closed && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
    if (!echoed) throw new BenchError('BENCH_AUTH_SETUP', `a publish to ${PROBE_TOPIC} did not come back: the ACL drops an allowed topic`);
  } finally {
    await conn.disconnect();
  }
}
