// Three real `placement start` processes, concurrent KV clients, and a nemesis that kills the
// leader with -9, pauses it with SIGSTOP, and cuts it off through the link proxies. The history
// must be linearizable (jepsen-like-tests/linearizability), no acknowledged write may be lost, and
// after every fault a write must succeed again within RECOVERY_BOUND_MS.
//
//   npx vitest run jepsen-like-tests/placement                               # short profile (CI)
//   JEPSEN_PLACEMENT_SECONDS=300 npx vitest run jepsen-like-tests/placement  # long profile
//
// A failing history is written to $TMPDIR/robustmq-placement-jepsen-<time>.json.

import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCodedError } from '../../../common/errors.js';
import { GrpcPlacementClient } from '../../../placement/client/grpc-client.js';
import { checkOperations, kvModel, writeHistoryFile, type KvInput, type KvOperation, type KvOutput } from '../../linearizability/index.js';
import { ensurePlacementBuilt } from '../ensure-built.js';
import { ProcessCluster } from '../process-cluster.js';

const SECONDS = Number(process.env.JEPSEN_PLACEMENT_SECONDS ?? 15);
const CLIENTS = Number(process.env.JEPSEN_PLACEMENT_CLIENTS ?? 4);
/** Documented bound: from a fault on the leader until a write succeeds again. */
const RECOVERY_BOUND_MS = 10_000;
const KEYS = ['k0', 'k1', 'k2'];

const root = resolve(import.meta.dirname, '../../..');
let cluster: ProcessCluster;

beforeAll(async () => {
  const bin = ensurePlacementBuilt(root);
  cluster = await ProcessCluster.start({ size: 3, binPath: bin });
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function findLeader(deadlineMs: number): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    for (const n of cluster.nodes) {
      if (!n.child || n.paused) continue;
      const c = new GrpcPlacementClient({ addresses: [n.clientProxy.address], timeoutMs: 500, attemptTimeoutMs: 500 });
      try {
        const s = await c.status();
        if (s.role === 'leader') return s.nodeId;
      } catch {
        // Not reachable right now.
      } finally {
        await c.close();
      }
    }
    await sleep(50);
  }
  throw new Error(`no leader within ${deadlineMs} ms`);
}

interface Worker {
  readonly history: KvOperation[];
  readonly acked: string[];
}

async function runClient(id: number, stop: { done: boolean }, out: Worker): Promise<void> {
  const client = new GrpcPlacementClient({ addresses: cluster.clientAddresses, timeoutMs: 5000, attemptTimeoutMs: 1500 });
  // Reads go to a random member first (followers serve linearizable reads too), so a member cut
  // off or paused is read from as well; each reader sticks to its member until that fails.
  const all = cluster.clientAddresses;
  const readers = all.map((_, m) => new GrpcPlacementClient({ addresses: [...all.slice(m), ...all.slice(0, m)], timeoutMs: 5000, attemptTimeoutMs: 1500 }));
  let n = 0;
  try {
    while (!stop.done) {
      n++;
      if (n % 5 === 0) {
        const key = `u/${id}/${n}`;
        try {
          await client.kvSet(key, 'x');
          out.acked.push(key);
        } catch {
          // Unknown outcome: not counted as acknowledged.
        }
        continue;
      }
      const key = KEYS[Math.floor(Math.random() * KEYS.length)]!;
      const r = Math.random();
      const input: KvInput = r < 0.45 ? { op: 'put', key, value: `${id}-${n}` } : r < 0.9 ? { op: 'get', key } : { op: 'delete', key };
      const call = performance.now();
      try {
        let output: KvOutput;
        if (input.op === 'put') {
          await client.kvSet(key, input.value);
          output = { op: 'put' };
        } else if (input.op === 'get') {
          const e = await readers[Math.floor(Math.random() * readers.length)]!.kvGet(key);
          output = { op: 'get', value: e === undefined ? null : new TextDecoder().decode(e.value) };
        } else {
          output = { op: 'delete', existed: (await client.kvDelete(key)).existed };
        }
        out.history.push({ clientId: id, input, call, output, return: performance.now() });
      } catch (err: unknown) {
        // A write that failed may still have taken effect: its outcome is unknown. A failed read
        // changed nothing and is left out.
        if (input.op !== 'get') out.history.push({ clientId: id, input, call });
        if (!isCodedError(err)) throw err;
      }
      await sleep(5 + Math.random() * 10);
    }
  } finally {
    await client.close();
    for (const r of readers) await r.close();
  }
}

describe(`placement under faults (${SECONDS} s, ${CLIENTS} clients)`, () => {
  it(
    'stays linearizable, loses no acknowledged write, and serves again within the bound after each fault',
    async () => {
      const stop = { done: false };
      const workers: Worker[] = Array.from({ length: CLIENTS }, () => ({ history: [], acked: [] }));
      const running = workers.map((w, i) => runClient(i + 1, stop, w));
      const probe = new GrpcPlacementClient({ addresses: cluster.clientAddresses, timeoutMs: RECOVERY_BOUND_MS, attemptTimeoutMs: 1000 });
      const recoveries: { fault: string; ms: number }[] = [];
      const faults = ['kill -9', 'pause', 'partition'] as const;
      const endAt = Date.now() + SECONDS * 1000;
      let cycle = 0;
      try {
        await findLeader(RECOVERY_BOUND_MS);
        await sleep(1000);
        while (Date.now() < endAt || cycle < faults.length) {
          const fault = faults[cycle % faults.length]!;
          cycle++;
          const leader = await findLeader(RECOVERY_BOUND_MS);
          const others = cluster.nodes.map((n) => n.id).filter((id) => id !== leader);
          const at = Date.now();
          if (fault === 'kill -9') await cluster.kill9(leader);
          else if (fault === 'pause') cluster.pause(leader);
          else cluster.partition([[leader], others]);
          await probe.kvSet('probe', String(cycle));
          recoveries.push({ fault, ms: Date.now() - at });
          await sleep(500);
          if (fault === 'kill -9') await cluster.restart(leader);
          else if (fault === 'pause') cluster.resume(leader);
          else cluster.heal();
          await sleep(1500);
        }
      } finally {
        stop.done = true;
        await Promise.all(running);
        await probe.close();
      }

      // Healed and whole again: final reads join the history, then the checks.
      const final = new GrpcPlacementClient({ addresses: cluster.clientAddresses, timeoutMs: RECOVERY_BOUND_MS });
      const history = workers.flatMap((w) => w.history);
      for (const key of KEYS) {
        const call = performance.now();
        const e = await final.kvGet(key);
        history.push({ clientId: 0, input: { op: 'get', key }, call, output: { op: 'get', value: e === undefined ? null : new TextDecoder().decode(e.value) }, return: performance.now() });
      }
      const stored = new Set((await final.kvList('u/')).entries.map((e) => e.key));
      await final.close();

      const acked = workers.flatMap((w) => w.acked);
      const lost = acked.filter((k) => !stored.has(k));
      const result = checkOperations(kvModel, history, { maxSteps: 20_000_000 });
      const summary = {
        ops: history.length,
        unknown: history.filter((o) => o.return === undefined).length,
        ackedUniqueWrites: acked.length,
        lost: lost.length,
        verdict: result.verdict,
        recoveries,
      };
      console.log(`placement jepsen: ${JSON.stringify(summary)}`);
      if (result.verdict !== 'ok' || lost.length > 0) {
        const file = join(tmpdir(), `robustmq-placement-jepsen-${Date.now()}.json`);
        writeHistoryFile(file, history, result, JSON.stringify(summary));
        console.log(`history written to ${file}`);
      }
      expect(lost).toEqual([]);
      expect(result.verdict).toBe('ok');
      expect(history.filter((o) => o.return !== undefined).length).toBeGreaterThan(100);
      for (const r of recoveries) expect(r.ms, `${r.fault} recovery`).toBeLessThan(RECOVERY_BOUND_MS);

      // Clean stop: SIGTERM makes every node exit 0.
      for (const n of cluster.nodes) expect(await cluster.terminate(n.id), `node ${n.id} exit code`).toBe(0);
    },
    SECONDS * 1000 + 120_000,
  );
});
