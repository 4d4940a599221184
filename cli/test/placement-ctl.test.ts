import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCtl } from '../robust-ctl.js';
import { TestCluster } from '../../placement/service/test/cluster.js';

let cluster: TestCluster;
let followerAddr: string;
let leaderId: number;

beforeAll(async () => {
  // promoteMaxLag 0: a learner nobody runs is refused promotion deterministically.
  cluster = await TestCluster.start(3, { promoteMaxLag: 0 });
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

  it('member add --learner, promote (refused while the learner lags), remove; usage errors exit 2', async () => {
    const add = await ctl('placement', 'member', 'add', '--id', '7', '--address', '127.0.0.1:1', '--learner', '--placement', followerAddr, '--output', 'json');
    expect(add.code).toBe(0);
    const added = JSON.parse(add.out) as { index: number; members: { id: number; role: string; address: string }[] };
    expect(added.index).toBeGreaterThan(0);
    expect(added.members).toContainEqual(expect.objectContaining({ id: 7, role: 'learner', address: '127.0.0.1:1' }));

    const promote = await ctl('placement', 'member', 'promote', '--id', '7', '--placement', followerAddr, '--timeout', '3000');
    expect(promote.code).toBe(1);
    expect(promote.err).toContain('PC_LEARNER_NOT_CAUGHT_UP');

    const remove = await ctl('placement', 'member', 'remove', '--id', '7', '--placement', followerAddr);
    expect(remove.code).toBe(0);
    expect(remove.out).toMatch(/^OK \(applied at index \d+\)/);
    expect(remove.out).not.toContain('learner');
    expect(await ctl('placement', 'member', 'remove', '--id', '7', '--placement', followerAddr)).toMatchObject({ code: 0, out: expect.stringContaining('nothing to change') });

    const unknown = await ctl('placement', 'member', 'remove', '--id', '99', '--placement', followerAddr);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('PC_MEMBER_NOT_FOUND');

    expect((await ctl('placement', 'member', 'add', '--id', '8')).code).toBe(2);
    expect((await ctl('placement', 'member', 'add', '--id', 'x', '--address', 'h:1')).code).toBe(2);
    expect((await ctl('placement', 'member', 'add', '--id', '8', '--address', 'nohost')).code).toBe(2);
    expect((await ctl('placement', 'member', 'promote', '--id', '8', '--learner')).code).toBe(2);
    expect((await ctl('placement', 'member', 'remove', '--to', '8')).code).toBe(2);
    expect((await ctl('placement', 'member', 'frob', '--id', '8')).code).toBe(2);
    expect((await ctl('placement', 'transfer-leader')).code).toBe(2);
  });

  it('transfer-leader --to N returns once N leads', async () => {
    const to = cluster.members.find((m) => m.id !== leaderId)!.id;
    const r = await ctl('placement', 'transfer-leader', '--to', String(to), '--placement', followerAddr);
    expect(r).toMatchObject({ code: 0, out: expect.stringContaining(`node ${to} leads`) });
    const s = JSON.parse((await ctl('placement', 'status', '--placement', followerAddr, '--output', 'json')).out) as { leader_id: number };
    expect(s.leader_id).toBe(to);
    const learner = await ctl('placement', 'transfer-leader', '--to', '42', '--placement', followerAddr);
    expect(learner.code).toBe(1);
    expect(learner.err).toContain('PC_MEMBER_NOT_FOUND');
  });
});
