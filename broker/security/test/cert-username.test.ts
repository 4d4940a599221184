// auth.use_cert_cn_as_username: the verified client certificate's CN is the username, and a
// certificate without a password authenticates the client even with anonymous access off.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, endClient, startTestBroker, tlsDir, type TestBroker } from '../../test/helpers.js';

describe('TLS client certificate CN as username', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker(['auth.allow_anonymous=false', 'auth.use_cert_cn_as_username=true'], { tls: true });
  });
  afterAll(() => broker.stop());

  it('a client with a certificate is in as its CN; one without is refused', async () => {
    const tlsOpts = { ca: readFileSync(path.join(tlsDir, 'ca.crt')), rejectUnauthorized: true };
    const client = await connectClient(broker.url('mqtts'), {
      ...tlsOpts, cert: readFileSync(path.join(tlsDir, 'client.crt')), key: readFileSync(path.join(tlsDir, 'client.key')), clientId: 'cert-1', protocolVersion: 5,
    });
    const conn = [...broker.broker.connections].find((c) => c.clientId === 'cert-1');
    expect(conn?.username).toBe('device-42');
    await endClient(client);
    await expect(connectClient(broker.url('mqtts'), { ...tlsOpts, clientId: 'nocert', protocolVersion: 5 })).rejects.toThrow(/Not authorized/i);
  });
});
