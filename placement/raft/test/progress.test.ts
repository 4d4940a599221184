import { describe, expect, it } from 'vitest';
import { Progress } from '../progress.js';

describe('Progress flow control', () => {
  it('probes one append at a time and becomes replicate after a match', () => {
    const pr = new Progress(2, 10, false, 3);
    pr.sentEntries(12);
    expect(pr.isPaused()).toBe(true);
    pr.resume();
    expect(pr.isPaused()).toBe(false);
    expect(pr.maybeUpdate(12)).toBe(true);
    pr.becomeReplicate();
    expect([pr.match, pr.next]).toEqual([12, 13]);
  });

  it('pipelines up to the in-flight limit in replicate state', () => {
    const pr = new Progress(2, 1, false, 2);
    pr.becomeReplicate();
    pr.sentEntries(3);
    pr.sentEntries(5);
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(3);
    pr.freeInflightsTo(3);
    expect(pr.isPaused()).toBe(false);
    expect(pr.next).toBe(6);
  });

  it('ignores stale rejections and backs off with the hint', () => {
    const pr = new Progress(2, 10, false, 4);
    expect(pr.maybeDecrTo(5, 3)).toBe(false); // answer to an older probe
    expect(pr.maybeDecrTo(9, 3)).toBe(true);
    expect(pr.next).toBe(4);
    pr.becomeReplicate();
    pr.match = 6;
    expect(pr.maybeDecrTo(5, 0)).toBe(false); // below match: stale
    expect(pr.maybeDecrTo(8, 0)).toBe(true);
    expect(pr.next).toBe(7);
  });

  it('pauses while a snapshot is in flight and resumes probing after it', () => {
    const pr = new Progress(2, 1, false, 4);
    pr.becomeSnapshot(50);
    expect(pr.isPaused()).toBe(true);
    pr.resume();
    expect(pr.isPaused()).toBe(true);
    pr.becomeProbe();
    expect([pr.state, pr.next]).toEqual(['probe', 51]);
  });
});
