// Topic names and filters: validation, shared-subscription parsing and matching.

export interface TopicLimits {
  maxTopicLength: number;
  maxTopicLevels: number;
}

/** Why a topic name is refused, or null when it is valid. [MQTT-4.7.3-1] [MQTT-3.3.2-2] */
export function topicNameError(topic: string, limits: TopicLimits): string | null {
  if (topic.length === 0) return '[MQTT-4.7.3-1] topic name must be at least one character';
  if (Buffer.byteLength(topic) > limits.maxTopicLength) return `topic name longer than ${limits.maxTopicLength} bytes`;
  if (topic.includes('+') || topic.includes('#')) return '[MQTT-3.3.2-2] topic name must not contain wildcards';
  if (topic.includes('\u0000')) return '[MQTT-4.7.3-2] topic name must not contain U+0000';
  if (countLevels(topic) > limits.maxTopicLevels) return `topic name has more than ${limits.maxTopicLevels} levels`;
  return null;
}

/** Why a topic filter is refused, or null when it is valid. [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.7.1-3] */
export function topicFilterError(filter: string, limits: TopicLimits): string | null {
  if (filter.length === 0) return '[MQTT-4.7.3-1] topic filter must be at least one character';
  if (Buffer.byteLength(filter) > limits.maxTopicLength) return `topic filter longer than ${limits.maxTopicLength} bytes`;
  if (filter.includes('\u0000')) return '[MQTT-4.7.3-2] topic filter must not contain U+0000';
  const levels = filter.split('/');
  if (levels.length > limits.maxTopicLevels) return `topic filter has more than ${limits.maxTopicLevels} levels`;
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return '[MQTT-4.7.1-2] "#" must be a whole level and the last one';
    }
    if (level.includes('+') && level !== '+') return '[MQTT-4.7.1-3] "+" must occupy a whole level';
  }
  return null;
}

function countLevels(topic: string): number {
  let n = 1;
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 47) n++;
  return n;
}

export interface ParsedFilter {
  /** The filter that is matched against topics. */
  filter: string;
  /** Shared subscription group, when the filter was `$share/{group}/{filter}` or `$queue/{filter}`. */
  group?: string;
  /** The filter was `$exclusive/{filter}`: one session at a time may hold it (broker/mqtt/exclusive.ts). */
  exclusive?: true;
}

/**
 * Splits `$share/{group}/{filter}` [MQTT-4.8.2-1] [MQTT-4.8.2-2], `$queue/{filter}` (one
 * broker-wide group named `$queue`) and `$exclusive/{filter}` (not shareable). Returns an error
 * string for a malformed prefix.
 */
export function parseFilter(raw: string): ParsedFilter | string {
  if (raw.startsWith('$share/')) {
    const rest = raw.slice(7);
    const slash = rest.indexOf('/');
    if (slash <= 0) return '[MQTT-4.8.2-1] $share/ needs a share name and a topic filter';
    const group = rest.slice(0, slash);
    if (group.includes('+') || group.includes('#')) return '[MQTT-4.8.2-2] share name must not contain wildcards';
    const filter = rest.slice(slash + 1);
    if (filter.length === 0) return '[MQTT-4.8.2-1] $share/ needs a topic filter';
    return { filter, group };
  }
  if (raw.startsWith('$exclusive/')) {
    const filter = raw.slice(11);
    if (filter.length === 0) return '$exclusive/ needs a topic filter';
    const first = filter.split('/', 1)[0];
    if (first === '$share' || first === '$queue' || first === '$exclusive') return `$exclusive/ cannot be combined with ${first}`;
    return { filter, exclusive: true };
  }
  if (raw.startsWith('$queue/')) {
    const filter = raw.slice(7);
    if (filter.length === 0) return '$queue/ needs a topic filter';
    return { filter, group: '$queue' };
  }
  return { filter: raw };
}

/** Whether `filter` matches `topic`. `$`-topics are not matched by a leading wildcard [MQTT-4.7.2-1]. */
export function topicMatches(filter: string, topic: string): boolean {
  return filterMatcher(filter)(topic);
}

/**
 * A matcher for one filter, for testing many topics against it (retained messages on SUBSCRIBE):
 * the filter is split once, and each topic is walked level by level without splitting it.
 */
export function filterMatcher(filter: string): (topic: string) => boolean {
  const f = filter.split('/');
  const leadingWildcard = f[0] === '+' || f[0] === '#';
  return (topic: string): boolean => {
    if (leadingWildcard && topic.charCodeAt(0) === 36) return false;
    let start = 0;
    for (let i = 0; i < f.length; i++) {
      const level = f[i]!;
      if (level === '#') return true;
      if (start > topic.length) return false; // the topic has fewer levels than the filter
      let end = topic.indexOf('/', start);
      if (end === -1) end = topic.length;
      if (level !== '+' && (end - start !== level.length || !topic.startsWith(level, start))) return false;
      start = end + 1;
    }
    return start > topic.length;
  };
}
