import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCtl } from '../robust-ctl.js';
import { TestCluster } from '../../placement/service/test/cluster.js';

let cluster: TestCluster;
let followerAddr: string;
let leaderId: number;

beforeAll(async () => {
  cluster = await TestCluster.start(3);
  const leader = await cluster.waitForLeader();
  leaderId = leader.id;
  followerAddr = cluster.members.find((m) => m.id !== leader.id)!.address;
});
afterAll(async () => {
  await cluster.close();
});

async function ctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCtl(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('robust-ctl placement', () => {
  it('status --output json: node, role, term, leader, indexes, members', async () => {
    const r = await ctl('placement', 'status', '--placement', followerAddr, '--output', 'json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as Record<string, unknown>;
    expect(s).toMatchObject({ role: 'follower', leader_id: leaderId, address: followerAddr });
    expect(s.leader_address).toBe(cluster.member(leaderId).address);
    expect(typeof s.term).toBe('number');
    expect(s.commit_index as number).toBeGreaterThan(0);
    expect(s.applied_index as number).toBeGreaterThan(0);
    expect((s.members as { id: number }[]).map((m) => m.id)).toEqual([1, 2, 3]);
  });

  it('status as a table', async () => {
    const r = await ctl('placement', 'status', '--placement', followerAddr);
    expect(r.code).toBe(0);
    expect(r.out).toContain('leader_address');
    expect(r.out).toContain('voter');
  });

  it('kv set through a follower, get, delete; get of an absent key exits 1', async () => {
    expect(await ctl('placement', 'kv', 'set', 'greeting', 'hello world', '--placement', followerAddr)).toMatchObject({ code: 0, out: 'OK' });
    expect(await ctl('placement', 'kv', 'get', 'greeting', '--placement', followerAddr)).toMatchObject({ code: 0, out: 'hello world' });
    expect(await ctl('placement', 'kv', 'delete', 'greeting', '--placement', followerAddr)).toMatchObject({ code: 0, out: 'OK' });
    const gone = await ctl('placement', 'kv', 'get', 'greeting', '--placement', followerAddr);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain('not found');
  });

  it('bad usage exits 2; an unreachable member exits 1', async () => {
    expect((await ctl('placement', 'kv', 'frobnicate')).code).toBe(2);
    expect((await ctl('placement', 'status', '--placement', 'nohost')).code).toBe(2);
    const down = await ctl('placement', 'kv', 'get', 'x', '--placement', '127.0.0.1:1', '--timeout', '500');
    expect(down.code).toBe(1);
    expect(down.err).toContain('PC_');
  });
});
