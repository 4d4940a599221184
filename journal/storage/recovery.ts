// Opening a shard directory: decide what can be trusted, rebuild the rest, cut torn tails.
//
// Rules (README.md explains them for operators):
// 0. A `<base>.log.truncate` intent is redone (truncate to its cut, write its prefix batch), then removed.
// 1. `*.tmp` files are leftovers of an interrupted temp+rename swap: the rename never happened, so
//    the file they were replacing is still whole (or was never there). They are deleted.
//    Index files without a `.log` are deleted.
// 2. Clean path: the `clean-shutdown` marker parses and lists exactly the `.log` files present with
//    their sizes. Then each segment adopts its index files if their CRC holds and their header
//    matches the log (size, offsets); a segment whose index does not check out is rebuilt from its
//    log with every CRC verified.
// 3. Unclean path (no marker, or it does not match): every segment's indexes are rebuilt from its
//    log. The last segment, and any segment without a matching sealed index (never fsynced at roll),
//    has every batch CRC verified; older sealed segments were fsynced when they rolled, so their
//    batch headers are walked (structure and offset continuity) and their CRCs are left to read().
//    With `key_index` every batch of every segment is CRC-checked because keys are decoded.
// 4. The first bad batch (torn, corrupt, or an offset gap between segments) is the end of the log:
//    its segment is truncated to the last valid batch and every later segment is moved to
//    `quarantine/<time>-<pid>/` so offsets stay dense and nothing past the hole is served.
import fs from 'node:fs';
import { fsyncDir, join, readFileIfExists, unlinkIfExists } from './fs-io.js';
import { scanRecordKeys } from './record-batch.js';
import { Segment, applyTruncateIntent, type SegmentLimits } from './segment.js';
import { CLEAN_SHUTDOWN_FILE, INDEX_EXT, LOG_EXT, QUARANTINE_DIR, TIME_INDEX_EXT, TMP_SUFFIX, TRUNCATE_INTENT_SUFFIX, parseSegmentFileName, segmentFileName } from './segment-files.js';
import { decodeOffsetIndex, decodeTimeIndex, type OffsetIndex, type SegmentMeta, type TimeIndex } from './segment-index.js';

export interface RecoveryReport {
  /** The clean-shutdown marker was present and matched the files. */
  clean: boolean;
  /** Segments whose indexes were rebuilt from the log. */
  rebuiltSegments: number[];
  /** Segments whose every batch CRC was verified during open. */
  crcVerifiedSegments: number[];
  /** Where the valid log ended early, if it did. */
  corruption: { file: string; position: number; reason: string } | null;
  /** Bytes removed from the end of the segment that held the torn/corrupt point. */
  truncatedBytes: number;
  /** Files moved into the quarantine folder. */
  quarantined: string[];
  /** Leftover temp or orphan files deleted. */
  removedFiles: string[];
  /** Segments whose interrupted split-batch truncation was redone from its intent file. */
  redoneTruncations: string[];
}

export interface CleanMarker {
  version: 1;
  nextOffset: number;
  segments: [number, number][];
}

export function encodeCleanMarker(segments: readonly Segment[]): Buffer {
  const m: CleanMarker = {
    version: 1,
    nextOffset: segments[segments.length - 1]!.nextOffset,
    segments: segments.map((s) => [s.baseOffset, s.size]),
  };
  return Buffer.from(JSON.stringify(m));
}

function parseCleanMarker(buf: Buffer | null): CleanMarker | null {
  if (buf === null) return null;
  try {
    const m = JSON.parse(buf.toString('utf8')) as Partial<CleanMarker>;
    if (m.version !== 1 || !Number.isSafeInteger(m.nextOffset) || !Array.isArray(m.segments)) return null;
    for (const s of m.segments) {
      if (!Array.isArray(s) || s.length !== 2 || !Number.isSafeInteger(s[0]) || !Number.isSafeInteger(s[1])) return null;
    }
    return m as CleanMarker;
  } catch {
    return null;
  }
}

async function loadIndexes(seg: Segment): Promise<{ meta: SegmentMeta; offsetIndex: OffsetIndex; timeIndex: TimeIndex } | null> {
  const ib = await readFileIfExists(seg.indexPath);
  const tb = await readFileIfExists(seg.timeIndexPath);
  if (ib === null || tb === null) return null;
  const oi = decodeOffsetIndex(ib);
  const ti = decodeTimeIndex(tb);
  if (!oi || !ti) return null;
  const a = oi.meta;
  const b = ti.meta;
  if (a.baseOffset !== seg.baseOffset || a.logSize !== seg.size) return null;
  if (a.nextOffset !== b.nextOffset || a.logSize !== b.logSize || a.maxTimestamp !== b.maxTimestamp || a.firstTimestamp !== b.firstTimestamp || b.baseOffset !== a.baseOffset) return null;
  if ((a.logSize === 0) !== (a.nextOffset === a.baseOffset)) return null;
  return { meta: a, offsetIndex: oi.index, timeIndex: ti.index };
}

export async function openSegments(dir: string, limits: SegmentLimits, keyIndex: Map<string, number> | null): Promise<{ segments: Segment[]; report: RecoveryReport }> {
  await fs.promises.mkdir(dir, { recursive: true });
  const report: RecoveryReport = { clean: false, rebuiltSegments: [], crcVerifiedSegments: [], corruption: null, truncatedBytes: 0, quarantined: [], removedFiles: [], redoneTruncations: [] };

  let names = await fs.promises.readdir(dir);
  for (const name of names) {
    if (!name.endsWith(`.${LOG_EXT}${TRUNCATE_INTENT_SUFFIX}`)) continue;
    const logName = name.slice(0, -TRUNCATE_INTENT_SUFFIX.length);
    const intent = await readFileIfExists(join(dir, name));
    if (intent !== null && names.includes(logName) && applyTruncateIntent(join(dir, logName), intent, limits.maxBatchBytes)) {
      report.redoneTruncations.push(logName);
    }
    await unlinkIfExists(join(dir, name));
    await fsyncDir(dir);
  }
  names = await fs.promises.readdir(dir);
  const logs: number[] = [];
  const others: { name: string; base: number }[] = [];
  for (const name of names) {
    if (name.endsWith(TMP_SUFFIX)) {
      await unlinkIfExists(join(dir, name));
      report.removedFiles.push(name);
      continue;
    }
    const p = parseSegmentFileName(name);
    if (!p) continue;
    if (p.ext === LOG_EXT) logs.push(p.baseOffset);
    else others.push({ name, base: p.baseOffset });
  }
  logs.sort((x, y) => x - y);
  const logSet = new Set(logs);
  for (const o of others) {
    if (!logSet.has(o.base)) {
      await unlinkIfExists(join(dir, o.name));
      report.removedFiles.push(o.name);
    }
  }

  const markerPath = join(dir, CLEAN_SHUTDOWN_FILE);
  const marker = parseCleanMarker(await readFileIfExists(markerPath));
  const segments = logs.map((b) => Segment.openExisting(dir, b, limits));
  try {
    report.clean =
      marker !== null &&
      marker.segments.length === segments.length &&
      marker.segments.every(([b, size], i) => segments[i]!.baseOffset === b && segments[i]!.size === size);

    let cut = -1;
    for (let i = 0; i < segments.length && cut < 0; i++) {
      const seg = segments[i]!;
      const isLast = i === segments.length - 1;
      const expectedBase = i === 0 ? seg.baseOffset : segments[i - 1]!.nextOffset;
      if (seg.baseOffset !== expectedBase) {
        // A gap or overlap between segments: the previous segment's end is the end of the log.
        report.corruption = { file: seg.logPath, position: 0, reason: `segment starts at ${seg.baseOffset}, previous ends at ${expectedBase}` };
        cut = i;
        break;
      }
      const idx = await loadIndexes(seg);
      const expectedNext = isLast ? marker?.nextOffset : segments[i + 1]!.baseOffset;
      const indexMatches = idx !== null && (!report.clean || idx.meta.nextOffset === expectedNext);
      if (report.clean && indexMatches && keyIndex === null) {
        seg.adopt(idx.meta, idx.offsetIndex, idx.timeIndex);
        continue;
      }
      const verifyCrc = keyIndex !== null || isLast || !indexMatches || report.clean;
      const visitor =
        keyIndex === null
          ? undefined
          : (buf: Buffer, off: number, h: Parameters<typeof scanRecordKeys>[2]) => {
              try {
                scanRecordKeys(buf, off, h, (k, o) => keyIndex.set(k, o));
                return true;
              } catch {
                return false;
              }
            };
      const failure = await seg.rebuild(verifyCrc, visitor);
      report.rebuiltSegments.push(seg.baseOffset);
      if (verifyCrc) report.crcVerifiedSegments.push(seg.baseOffset);
      if (failure) {
        report.corruption = { file: seg.logPath, position: failure.position, reason: failure.reason };
        report.truncatedBytes = seg.fileSize - seg.size;
        fs.ftruncateSync(seg.fd, seg.size);
        seg.dirty = true;
        await seg.sync();
        cut = i + 1;
      } else if (!isLast && (idx === null || idx.meta.nextOffset !== seg.nextOffset || idx.meta.logSize !== seg.size)) {
        await seg.sync();
        await seg.writeIndexes();
      }
    }

    if (cut >= 0 && cut < segments.length) {
      const qname = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
      const qdir = join(join(dir, QUARANTINE_DIR), qname);
      await fs.promises.mkdir(qdir, { recursive: true });
      for (const seg of segments.splice(cut)) {
        seg.close();
        for (const ext of [LOG_EXT, INDEX_EXT, TIME_INDEX_EXT]) {
          const name = segmentFileName(seg.baseOffset, ext);
          try {
            await fs.promises.rename(join(dir, name), join(qdir, name));
            report.quarantined.push(`${QUARANTINE_DIR}/${qname}/${name}`);
          } catch {
            // An index file that did not exist.
          }
        }
      }
      if (keyIndex !== null) {
        const end = segments.length > 0 ? segments[segments.length - 1]!.nextOffset : 0;
        for (const [k, o] of keyIndex) if (o >= end) keyIndex.delete(k);
      }
    }
    if (segments.length === 0) {
      segments.push(Segment.create(dir, 0, limits));
    }
    // The active segment's index files describe it only until the next append.
    await segments[segments.length - 1]!.deleteIndexFiles();
    await unlinkIfExists(markerPath);
    await fsyncDir(dir);
    return { segments, report };
  } catch (e: unknown) {
    for (const s of segments) s.close();
    throw e;
  }
}
