/**
 * Data-driven interaction scripts in the spirit of etcd's raft testdata: a file is a list of
 * blocks, each a command, a `----` line and the expected output, separated by blank lines.
 * Running a script executes the commands on a TestCluster and compares the outputs; with
 * UPDATE_GOLDEN=1 the file is rewritten with the actual outputs instead.
 *
 * Commands:
 *   cluster voters=1,2,3 [learners=4] [joiners=5] [prevote] [checkquorum] [seed=n]
 *   campaign ID | tick ID|all [N] | stabilize | propose ID TEXT | conf ID add-voter|add-learner|remove-node NODE
 *   transfer ID TO | read ID CTX | isolate ID | partition A,B C,D | heal | restart ID | snapshot ID
 *   status | log ID | applied ID | read-states ID
 */
import { isRaftError } from '../../errors.js';
import type { ConfChangeType, Entry, Message } from '../../types.js';
import { TestCluster, text } from './cluster.js';

export interface Block {
  /** Comment lines (starting with #) written before the command; kept when rewriting. */
  readonly comments: readonly string[];
  readonly command: string;
  readonly expected: string;
}

export function parseScript(src: string): Block[] {
  const blocks: Block[] = [];
  const lines = src.replace(/\r\n/g, '\n').split('\n');
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.startsWith('#')) {
      comments.push(line);
      i++;
      continue;
    }
    if (line.trim() === '') {
      if (comments.length > 0 && blocks.length === 0) comments.push('');
      i++;
      continue;
    }
    const command = line.trim();
    i++;
    if (lines[i] !== '----') throw new Error(`line ${i + 1}: expected ---- after "${command}"`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') out.push(lines[i++]!);
    blocks.push({ comments, command, expected: out.join('\n') });
    comments = [];
  }
  return blocks;
}

export function formatScript(blocks: readonly Block[]): string {
  return blocks
    .map((b) => `${b.comments.length ? `${b.comments.join('\n')}\n` : ''}${b.command}\n----\n${b.expected}\n`)
    .join('\n');
}

const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

function entry(e: Entry): string {
  if (e.type === 'conf-change') return `${e.index}/${e.term} conf`;
  return e.data.byteLength === 0 ? `${e.index}/${e.term}` : `${e.index}/${e.term} "${decode(e.data)}"`;
}

export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'MsgApp':
      return `${head} prev=${m.index}/${m.logTerm} commit=${m.commit} entries=[${m.entries.map(entry).join(', ')}]`;
    case 'MsgAppResp':
      return m.reject ? `${head} rejected=${m.index} hint=${m.rejectHint}/${m.logTerm}` : `${head} index=${m.index}`;
    case 'MsgVote':
    case 'MsgPreVote':
      return `${head} last=${m.index}/${m.logTerm}${m.transfer ? ' transfer' : ''}`;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return `${head} ${m.reject ? 'rejected' : 'granted'}`;
    case 'MsgHeartbeat':
      return `${head} commit=${m.commit}${m.context.byteLength ? ` ctx=${decode(m.context)}` : ''}`;
    case 'MsgHeartbeatResp':
      return `${head}${m.context.byteLength ? ` ctx=${decode(m.context)}` : ''}`;
    case 'MsgSnap':
      return `${head} snapshot=${m.snapshot.metadata.index}/${m.snapshot.metadata.term}`;
    case 'MsgProp':
      return `${head} entries=${m.entries.length}`;
    case 'MsgReadIndex':
      return `${head} ctx=${decode(m.context)}`;
    case 'MsgReadIndexResp':
      return `${head} index=${m.index} ctx=${decode(m.context)}`;
    case 'MsgTransferLeader':
      return `${head} transferee=${m.transferee}`;
    case 'MsgTimeoutNow':
      return head;
  }
}

const ids = (s: string): number[] => s.split(',').filter(Boolean).map(Number);

export class InteractionRunner {
  private c: TestCluster | undefined;
  private seen = 0;

  private get cluster(): TestCluster {
    if (!this.c) throw new Error('no cluster: start the script with `cluster ...`');
    return this.c;
  }

  run(command: string): string {
    const [cmd, ...args] = command.split(/\s+/);
    try {
      return this.exec(cmd!, args);
    } catch (err: unknown) {
      if (isRaftError(err)) return `error: ${err.code}`;
      throw err;
    }
  }

  private exec(cmd: string, args: string[]): string {
    const num = (i: number): number => {
      const v = Number(args[i]);
      if (!Number.isInteger(v)) throw new Error(`${cmd}: argument ${i + 1} must be a node id, got ${args[i]}`);
      return v;
    };
    switch (cmd) {
      case 'cluster': {
        const opts = Object.fromEntries(args.map((a) => (a.includes('=') ? a.split('=') : [a, 'true'])));
        this.c = new TestCluster({
          voters: ids(opts.voters ?? ''),
          learners: ids(opts.learners ?? ''),
          joiners: ids(opts.joiners ?? ''),
          preVote: opts.prevote === 'true',
          checkQuorum: opts.checkquorum === 'true',
          seed: Number(opts.seed ?? 1),
        });
        // Bootstrap entries are persisted before the script's first command.
        this.c.stabilize();
        this.seen = this.c.delivered.length;
        return 'ok';
      }
      case 'campaign':
        this.cluster.node(num(0)).campaign();
        return 'ok';
      case 'tick': {
        const n = Number(args[1] ?? 1);
        const targets = args[0] === 'all' ? [...this.cluster.members.keys()] : [num(0)];
        for (let i = 0; i < n; i++) for (const id of targets) this.cluster.tick(id);
        return 'ok';
      }
      case 'stabilize': {
        this.cluster.stabilize();
        const msgs = this.cluster.delivered.slice(this.seen);
        this.seen = this.cluster.delivered.length;
        return msgs.length ? msgs.map(formatMessage).join('\n') : 'no messages';
      }
      case 'propose':
        this.cluster.node(num(0)).propose(text(args.slice(1).join(' ')));
        return 'ok';
      case 'conf':
        this.cluster.node(num(0)).proposeConfChange({ type: args[1] as ConfChangeType, nodeId: num(2) });
        return 'ok';
      case 'transfer':
        this.cluster.node(num(0)).transferLeadership(num(1));
        return 'ok';
      case 'read':
        this.cluster.node(num(0)).readIndex(text(args[1] ?? ''));
        return 'ok';
      case 'isolate':
        this.cluster.isolate(num(0));
        return 'ok';
      case 'partition':
        this.cluster.partition(ids(args[0]!), ids(args[1]!));
        return 'ok';
      case 'heal':
        this.cluster.clearFilters();
        return 'ok';
      case 'restart':
        this.cluster.restart(num(0));
        return 'ok';
      case 'snapshot': {
        const node = this.cluster.node(num(0));
        const applied = node.status().applied;
        node.createSnapshot(text(`snap@${applied}`));
        node.compact(applied);
        return `snapshot ${applied}, first index now ${node.status().firstIndex}`;
      }
      case 'status':
        return [...this.cluster.members]
          .map(([id, m]) => {
            const s = m.node.status();
            const members = `voters=${s.confState.voters.join(',')}${s.confState.learners.length ? ` learners=${s.confState.learners.join(',')}` : ''}`;
            return `${id}: ${s.role} term=${s.term} lead=${s.lead} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} ${members}`;
          })
          .join('\n');
      case 'log': {
        const node = this.cluster.node(num(0));
        const s = node.status();
        const ents = node.entries(s.firstIndex, s.lastIndex + 1);
        return ents.length ? ents.map(entry).join('\n') : 'empty';
      }
      case 'applied': {
        const texts = this.cluster.appliedTexts(num(0));
        return texts.length ? texts.join(' ') : 'nothing';
      }
      case 'read-states': {
        const m = this.cluster.get(num(0));
        const out = m.readStates.map((r) => `index=${r.index} ctx=${decode(r.context)}`);
        m.readStates = [];
        return out.length ? out.join('\n') : 'none';
      }
      default:
        throw new Error(`unknown command ${cmd}`);
    }
  }
}
