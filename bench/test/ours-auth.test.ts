import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBroker, type BrokerProcess } from '../brokers/launch.js';
import { BENCH_USERNAME } from '../brokers/ours-auth.js';
import { ConnackRefusedError } from '../loadgen/errors.js';
import { MqttConnection } from '../loadgen/mqtt-connection.js';
import { defaultScenarioNames, scenarios, type BrokerTarget } from '../scenarios/index.js';
import { tiny } from './tiny-params.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const brokerEntry = `${root}dist/bin/broker.js`;

// The real broker process, as `npm run bench -- --brokers ours-auth` starts it: anonymous access
// off, ACL no_match = deny, the bench user and rules created through the admin API.
describe('ours-auth: our broker with authentication and ACLs on', () => {
  let proc: BrokerProcess;
  let target: BrokerTarget;
  beforeAll(async () => {
    // A fresh clone has no build yet; the bench itself always builds first.
    if (!existsSync(brokerEntry)) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'ignore' });
    proc = await launchBroker('ours-auth', { core: null, oursEntry: brokerEntry });
    target = { name: 'ours-auth', host: proc.host, port: proc.port, pid: proc.pid, credentials: proc.credentials };
  }, 240_000);
  afterAll(async () => {
    await proc?.stop();
  });

  it('is set up with the bench user and refuses anonymous and wrong-password clients', async () => {
    expect(proc.credentials?.username).toBe(BENCH_USERNAME);
    const refused = async (credentials?: { username: string; password: string }): Promise<number | null> =>
      MqttConnection.open({ host: proc.host, port: proc.port, clientId: `probe-${Math.random()}`, credentials }).then(
        (c) => {
          c.destroy();
          return null;
        },
        (e: unknown) => (e instanceof ConnackRefusedError ? e.returnCode : -1),
      );
    // [MQTT-3.2.2.3] 5 = not authorized, 4 = bad user name or password.
    expect(await refused()).toBe(5);
    expect(await refused({ username: BENCH_USERNAME, password: 'wrong' })).toBe(4);
  });

  // A publish the ACL denied would be acknowledged and dropped (MQTT 3.1.1), so each scenario must
  // also show its messages arrived, not only that it finished.
  const arrived: Record<string, Array<[string, (v: number) => boolean]>> = {
    'fanin-qos0': [['delivered_msg_s', (v) => v > 0]],
    'fanout-qos0': [['flatout_delivered_msg_s', (v) => v > 0]],
    'qos1-e2e': [['delivered_msg_s', (v) => v > 0], ['lost', (v) => v === 0]],
    'qos2-e2e': [['delivered_msg_s', (v) => v > 0], ['exactly_once', (v) => v === 1]],
    latency: [['received_pct', (v) => v > 0]],
    'idle-connections': [['connected', (v) => v === tiny.idleConnections]],
    'retained-10k': [['received', (v) => v === tiny.retainedTopics]],
    'offline-drain': [['lost', (v) => v === 0], ['session_present', (v) => v === 1]],
    overload: [['survived', (v) => v === 1]],
  };

  for (const name of defaultScenarioNames) {
    it(`${name} runs with credentials and within the ACL`, async () => {
      const r = await scenarios[name](target, tiny);
      expect(r.error).toBeUndefined();
      expect(r.ok).toBe(true);
      expect(proc.exit).toBeNull();
      const checks = arrived[name];
      expect(checks, `expectations for ${name}`).toBeDefined();
      for (const [metric, holds] of checks ?? []) {
        const v = r.metrics.find((m) => m.name === metric)?.value;
        expect(typeof v === 'number' && holds(v), `${name} ${metric} = ${v}`).toBe(true);
      }
    });
  }
});
