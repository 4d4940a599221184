import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../common/log.js';
import { isCodedError } from '../../../common/errors.js';
import { NodeKind, ObjectKind, type WatchResponse } from '../../../proto/gen/placement_pb.js';
import { startEmbeddedPlacement, type EmbeddedPlacement } from '../embedded.js';

const log = createLogger('silent', 'embedded-test');
const dirs: string[] = [];
let running: EmbeddedPlacement | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('startEmbeddedPlacement', () => {
  it('serves the PlacementClient interface in-process and keeps its data across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pc-embedded-'));
    dirs.push(dataDir);
    running = await startEmbeddedPlacement({ dataDir, log });
    const c = running.client;
    await c.kvSet('a', 'b');
    await c.putObject({ case: 'user', value: { username: 'alice', passwordHash: 'x', isSuperuser: true } });
    await c.putObject({ case: 'acl', value: { resourceType: 1, resourceName: 'alice', topic: 't/#', action: 2, permission: 1 } });
    await c.putObject({ case: 'subscription', value: { clientId: 'c1', filter: 'a/+', brokerId: 1, qos: 1 } });
    const status = await c.status();
    expect(status).toMatchObject({ role: 'leader', nodeId: 1, leaderId: 1 });
    await running.close();

    running = await startEmbeddedPlacement({ dataDir, log });
    const d = running.client;
    expect(new TextDecoder().decode((await d.kvGet('a'))!.value)).toBe('b');
    expect((await d.getObject({ case: 'user', value: { username: 'alice' } }))?.object?.object).toMatchObject({ case: 'user', value: { isSuperuser: true } });
    expect((await d.listObjects(ObjectKind.ACL)).objects).toHaveLength(1);
    expect((await d.listRoutes()).map((r) => r.filter)).toEqual(['a/+']);
    // Conditional writes give typed refusals.
    const dup = await d.putObject({ case: 'user', value: { username: 'alice' } }, { expectedModIndex: 0 }).catch((e: unknown) => e);
    expect(isCodedError(dup) && dup.code).toBe('PC_ALREADY_EXISTS');
  });

  it('watches see writes as they are applied', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pc-embedded-'));
    dirs.push(dataDir);
    running = await startEmbeddedPlacement({ dataDir, log });
    const c = running.client;
    const w = c.watch({ prefixes: ['user/', 'node/'] });
    const seen: WatchResponse[] = [];
    const reading = (async () => {
      for await (const r of w) {
        seen.push(r);
        if (seen.filter((x) => x.message.case === 'event').length === 2) break;
      }
    })();
    await c.kvSet('ignored', 'x');
    await c.putObject({ case: 'user', value: { username: 'bob' } });
    await c.registerNode({ kind: NodeKind.JOURNAL, nodeId: 3, address: '127.0.0.1:1778' });
    await reading;
    expect(seen.filter((x) => x.message.case === 'event').map((x) => (x.message.value as { key: string }).key)).toEqual(['user/bob', 'node/journal/3']);
  });
});
