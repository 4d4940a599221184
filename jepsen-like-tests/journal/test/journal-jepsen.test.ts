// Three journal processes and a placement process; four clients append with acks=quorum while
// the shard leader is killed with -9 and restarted, and partitioned and healed (through TCP
// proxies). The checker then confirms, on the healed cluster's final log: no acknowledged record
// lost, none duplicated, none moved (offsets as acknowledged, so no reordering), no definitely
// failed write present; and that writes were acknowledged again within RECOVERY_BOUND_MS of every
// fault. Finally the leader is killed once more and the log read from its successor, which shows
// the records are on the other replicas too.
//
// Profiles: the default (CI) runs 1 kill cycle and 1 partition cycle with 3 s phases;
// JOURNAL_JEPSEN_CYCLES=N and JOURNAL_JEPSEN_PHASE_MS=M run longer (see ../README.md).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCodedError } from '../../../common/errors.js';
import { Acks, JournalClient } from '../../../journal/client/index.js';
import { ensureBuilt } from '../../../journal/service/test/journal-process.js';
import { checkJournalHistory, longestUnavailability, type WriteOp } from '../checker.js';
import { JournalCluster } from './journal-cluster.js';

const CYCLES = Number(process.env.JOURNAL_JEPSEN_CYCLES ?? 1);
const PHASE_MS = Number(process.env.JOURNAL_JEPSEN_PHASE_MS ?? 3000);
const CLIENTS = 4;
/** Documented bound (../README.md): from a fault to the next acknowledged write. */
const RECOVERY_BOUND_MS = 10_000;
const TIMING = { refreshMs: 100, electionTimeoutMs: 1000, isrLagMs: 2000, fetchMaxWaitMs: 300, rpcTimeoutMs: 800 };

/** Errors after which the write certainly was not appended. */
const DEFINITE = new Set(['JR_NOT_ENOUGH_REPLICAS', 'JR_SHARD_NOT_FOUND', 'JR_CLOSED', 'JR_INVALID_ARGUMENT']);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('journal under faults (jepsen-like)', () => {
  let cluster: JournalCluster;

  beforeAll(async () => {
    ensureBuilt();
    cluster = await JournalCluster.start(3, TIMING);
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('keeps every acknowledged acks=quorum record through leader kill -9 and partition', async () => {
    const admin = new JournalClient({ addrs: cluster.clientAddresses, retryForMs: 20_000, rpcTimeoutMs: 3000 });
    await admin.createShard('jepsen', { replicas: 3 });
    const leaderOf = async (): Promise<number> => (await admin.describeShard('jepsen')).leaderId;

    const t0 = Date.now();
    const now = (): number => Date.now() - t0;
    const history: WriteOp[] = [];
    let running = true;
    const clients = Array.from({ length: CLIENTS }, async (_, c) => {
      const client = new JournalClient({ addrs: cluster.clientAddresses, retryForMs: 3000, rpcTimeoutMs: 3000 });
      for (let seq = 0; running; seq++) {
        const value = `c${c}-${seq}`;
        const call = now();
        try {
          const r = await client.write('jepsen', [{ value: Buffer.from(value) }], { acks: Acks.QUORUM, timeoutMs: 2500 });
          history.push({ client: c, value, call, ret: now(), outcome: 'ok', offset: r.baseOffset });
        } catch (e: unknown) {
          const code = isCodedError(e) ? e.code : 'UNKNOWN';
          const definite = isCodedError(e) && (DEFINITE.has(code) || e.details.not_sent === true || (code === 'JR_NOT_SHARD_LEADER' && e.details.outcome !== 'unknown'));
          history.push({ client: c, value, call, ret: now(), outcome: definite ? 'fail' : 'unknown', code });
          await sleep(50);
        }
      }
      client.close();
    });

    const faults: { kind: string; node: number; at: number; healedAt: number }[] = [];
    await sleep(PHASE_MS);
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      let victim = await leaderOf();
      let at = now();
      await cluster.kill(victim);
      await sleep(PHASE_MS);
      await cluster.startNode(victim);
      faults.push({ kind: 'kill -9 leader', node: victim, at, healedAt: now() });
      await sleep(PHASE_MS);

      victim = await leaderOf();
      at = now();
      cluster.partition(victim);
      await sleep(PHASE_MS);
      cluster.heal(victim);
      faults.push({ kind: 'partition leader', node: victim, at, healedAt: now() });
      await sleep(PHASE_MS);
    }
    running = false;
    await Promise.all(clients);
    const end = now();

    // Healed: wait until every replica is back in the in-sync set.
    const deadline = Date.now() + 20_000;
    while ((await admin.describeShard('jepsen')).isr.length < 3 && Date.now() < deadline) await sleep(100);

    const readAll = async (): Promise<string[]> => {
      const out: string[] = [];
      for (;;) {
        const r = await admin.read('jepsen', { offset: out.length }, { maxRecords: 5000 });
        if (r.records.length === 0) return out;
        for (const rec of r.records) out.push(Buffer.from(rec.value).toString());
      }
    };
    const log = await readAll();
    const result = checkJournalHistory(history, log);

    // The same log from another replica: kill the leader, read from its successor.
    const last = await leaderOf();
    await cluster.kill(last);
    // A new leader learns the high watermark again from its followers' next fetches; until then
    // it shows a shorter committed log (nothing is lost: the records are in its log).
    const hwDeadline = Date.now() + 15_000;
    while (Date.now() < hwDeadline) {
      const o = await admin.getOffsets('jepsen').catch(() => null);
      if (o !== null && o.highWatermark >= log.length) break;
      await sleep(100);
    }
    const again = await readAll();
    await cluster.startNode(last);
    admin.close();

    const recovery = faults.map((f) => ({ ...f, unavailableMs: longestUnavailability(history, f.at, Math.min(end, f.healedAt + PHASE_MS)).ms }));
    const report = { result: { ...result, violations: result.violations.slice(0, 20) }, faults: recovery, logLength: log.length };
    if (!result.valid || again.join('\n') !== log.join('\n') || recovery.some((r) => r.unavailableMs > RECOVERY_BOUND_MS)) {
      const file = path.join(os.tmpdir(), `journal-jepsen-${Date.now()}.json`);
      fs.writeFileSync(file, JSON.stringify({ ...report, history, log, logFromSuccessor: again, processLogs: cluster.logs() }, null, 1));
      console.error(`journal jepsen: history and logs saved to ${file}`);
    }
    console.log('journal jepsen', JSON.stringify({ counts: result.counts, faults: recovery }));
    expect(result.violations).toEqual([]);
    expect(again).toEqual(log);
    expect(result.counts.ok).toBeGreaterThan(50);
    for (const r of recovery) expect(r.unavailableMs, `${r.kind} of node ${r.node}`).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
  }, 300_000);
});
