// Child process for crash.test.ts: appends forever from four concurrent writers and prints
// one line per acknowledged batch. The parent kills it with SIGKILL at a random moment.
// stdout is a pipe, and pipe writes are synchronous on Linux, so a printed ack has left the process.
import { ShardLog } from '../../../dist/journal/storage/index.js';

const [dir, fsync, segmentBytes, round] = process.argv.slice(2);
const log = await ShardLog.open(dir, { fsync, segment_bytes: Number(segmentBytes), index_interval_bytes: 512 });
process.stdout.write(`open ${log.earliestOffset()} ${log.nextOffset()} ${log.recovery.clean}\n`);

let seq = 0;
async function writer(w) {
  for (;;) {
    const s = seq++;
    const n = 1 + (s % 3);
    const values = [];
    for (let i = 0; i < n; i++) values.push(`r${round}-w${w}-${s}-${i}-`.padEnd(20 + ((s * 7 + i) % 200), 'x'));
    const r = await log.append(values.map((v) => ({ value: Buffer.from(v), key: Buffer.from(`w${w}`) })));
    process.stdout.write(`ack ${r.baseOffset} ${r.lastOffset} ${w} ${s}\n`);
  }
}
for (let w = 0; w < 4; w++) void writer(w);
