import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAedes, type RunningServer } from '../brokers/aedes-server.js';
import { ConnackRefusedError } from '../loadgen/errors.js';
import { MqttConnection, type Credentials } from '../loadgen/mqtt-connection.js';
import { defaultScenarioNames, scenarios, type BrokerTarget } from '../scenarios/index.js';
import { tiny } from './tiny-params.js';

const credentials: Credentials = { username: 'bench-device', password: 'correct horse' };

describe('scenarios against a broker that requires credentials and confines clients to bench/#', () => {
  let aedes: RunningServer;
  let target: BrokerTarget;
  const seen = { accepted: 0, refused: 0 };
  beforeAll(async () => {
    aedes = await startAedes(0, '127.0.0.1', {
      concurrency: 100_000,
      authenticate: (_client, username, password, done) => {
        const ok = username === credentials.username && password?.toString('utf8') === credentials.password;
        if (ok) seen.accepted++;
        else seen.refused++;
        done(null, ok);
      },
      // The ours-auth rules in miniature: subscriptions only under bench/.
      authorizeSubscribe: (_client, sub, done) => done(sub.topic.startsWith('bench/') ? null : new Error('denied'), sub),
    });
    target = { name: 'aedes-auth', host: aedes.host, port: aedes.port, pid: process.pid, credentials };
  });
  afterAll(async () => {
    await aedes.close();
  });

  it('refuses a CONNECT without credentials with a typed return code', async () => {
    const err = await MqttConnection.open({ host: aedes.host, port: aedes.port, clientId: 'anon' }).then(
      (c) => {
        c.destroy();
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnackRefusedError);
    expect((err as ConnackRefusedError).returnCode).toBe(5);
  });

  // Every scenario, so a client opened outside helpers.open (offline-drain's persistent session,
  // overload's probe) cannot go out without the credentials unnoticed.
  for (const name of defaultScenarioNames) {
    it(`${name} sends the credentials in every CONNECT`, async () => {
      const refusedBefore = seen.refused;
      const acceptedBefore = seen.accepted;
      const r = await scenarios[name](target, tiny);
      expect(r.error).toBeUndefined();
      expect(r.ok).toBe(true);
      expect(seen.refused).toBe(refusedBefore);
      expect(seen.accepted).toBeGreaterThan(acceptedBefore);
    });
  }
});
