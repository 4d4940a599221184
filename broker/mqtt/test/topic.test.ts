// Topic matching: the fast matcher agrees with a plain split-based reference on random topics and
// filters, including empty levels, `$` topics and wildcards. Seed: FC_SEED.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterMatcher, topicFilterError, topicMatches } from '../topic.js';
import { TopicTrie } from '../topic-trie.js';

const seed = Number(process.env.FC_SEED ?? 11);

function reference(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

const level = fc.constantFrom('', 'a', 'b', 'ab', '$s', 'x y');
const topic = fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join('/'));
const filter = fc.array(fc.constantFrom('', 'a', 'b', 'ab', '$s', '+', 'x y'), { minLength: 1, maxLength: 5 })
  .chain((l) => fc.boolean().map((hash) => (hash ? [...l, '#'] : l).join('/')))
  .filter((f) => topicFilterError(f, { maxTopicLength: 65535, maxTopicLevels: 128 }) === null);


describe('topic matching', () => {
  it('filterMatcher and topicMatches agree with the reference', () => {
    fc.assert(fc.property(filter, topic, (f, t) => {
      expect(filterMatcher(f)(t)).toBe(reference(f, t));
      expect(topicMatches(f, t)).toBe(reference(f, t));
    }), { seed, numRuns: 3000 });
  });

  it('the subscription trie matches exactly the filters the reference matches', () => {
    fc.assert(fc.property(fc.uniqueArray(filter, { maxLength: 12 }), topic, (filters, t) => {
      const trie = new TopicTrie<string>();
      filters.forEach((f, i) => trie.insert(f, `k${i}`, f));
      const got = [...trie.match(t)].sort();
      expect(got).toEqual(filters.filter((f) => reference(f, t)).sort());
    }), { seed, numRuns: 2000 });
  });

  it('[MQTT-4.7.1-2] "a/#" matches "a" and [MQTT-4.7.2-1] "#" does not match "$SYS/x"', () => {
    expect(topicMatches('a/#', 'a')).toBe(true);
    expect(topicMatches('#', '$SYS/x')).toBe(false);
    expect(topicMatches('+/x', '$SYS/x')).toBe(false);
    expect(topicMatches('$SYS/#', '$SYS/x')).toBe(true);
    expect(topicMatches('a/+', 'a/')).toBe(true);
    expect(topicMatches('a/+', 'a')).toBe(false);
  });
});
