// Set relations between MQTT topic filters, for ACL checks on SUBSCRIBE: a filter stands for the
// set of topic names it matches (section 4.7), so "rule R allows subscription S" needs S ⊆ R and
// "rule R denies part of S" needs S ∩ R ≠ ∅. `$`-topics are not matched by a leading wildcard
// [MQTT-4.7.2-1], which both relations respect.

/** Whether every topic that `inner` matches is matched by `outer` (levels split on "/"). */
export function filterContains(outer: readonly string[], inner: readonly string[]): boolean {
  if (dollarMismatch(outer, inner)) return false;
  for (let i = 0; i < outer.length; i++) {
    const o = outer[i]!;
    if (o === '#') return true;
    if (i >= inner.length) return false;
    const n = inner[i]!;
    if (n === '#') {
      // Below level 0, `#` also matches its parent [MQTT-4.7.1-2], which `+/#` does not; at level 0
      // there is no parent, so `+/#` and `#` both match every topic with one level or more.
      return i === 0 && o === '+' && outer.length === 2 && outer[1] === '#';
    }
    if (n === '+') {
      if (o !== '+') return false;
    } else if (o !== '+' && o !== n) {
      return false;
    }
  }
  return outer.length === inner.length;
}

/** Whether some topic name is matched by both filters. */
export function filtersOverlap(a: readonly string[], b: readonly string[]): boolean {
  if (dollarMismatch(a, b) || dollarMismatch(b, a)) return false;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    // "a/#" also matches "a" [MQTT-4.7.1-2], so '#' meets the other filter's end as well.
    if (x === '#' || y === '#') return true;
    if (x === undefined || y === undefined) return false;
    if (x !== '+' && y !== '+' && x !== y) return false;
  }
  return true;
}

/** `wild` starts with a wildcard and `other` names only `$`-topics: they share no topic. */
function dollarMismatch(wild: readonly string[], other: readonly string[]): boolean {
  const w = wild[0];
  const o = other[0];
  return (w === '+' || w === '#') && o !== undefined && o.startsWith('$');
}

/** Whether a topic name (no wildcards) is matched by a filter, both split on "/". */
export function levelsMatch(filter: readonly string[], topic: readonly string[]): boolean {
  const t0 = topic[0];
  const f0 = filter[0];
  if (t0 !== undefined && t0.charCodeAt(0) === 36 && (f0 === '+' || f0 === '#')) return false;
  for (let i = 0; i < filter.length; i++) {
    const level = filter[i]!;
    if (level === '#') return true;
    if (i >= topic.length) return false;
    if (level !== '+' && level !== topic[i]) return false;
  }
  return filter.length === topic.length;
}
