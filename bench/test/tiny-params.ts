import { quickParams, type ScenarioParams } from '../scenarios/index.js';

/** Tiny sizes and fractions of a second: the tests check shape and counting, never speed. */
export const tiny: ScenarioParams = {
  ...quickParams,
  durationMs: 300,
  warmupMs: 50,
  fanInPublishers: 3,
  fanOutSubscribers: 5,
  fanOutRate: 200,
  qosPublishers: 2,
  qosWindow: 50,
  latencyRate: 500,
  idleConnections: 50,
  connectConcurrency: 16,
  retainedTopics: 200,
  offlineMessages: 200,
  overloadPublishers: 1,
  overloadRssCapMb: 4_096,
  settleMs: 3_000,
};
