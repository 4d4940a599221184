import { fanoutQos0 } from './fanout-qos0.js';
import { faninQos0 } from './fanin-qos0.js';
import { generatorCeiling } from './generator-ceiling.js';
import { idleConnections } from './idle-connections.js';
import { latency } from './latency.js';
import { offlineDrain } from './offline-drain.js';
import { overload } from './overload.js';
import { qos1E2e, qos2E2e } from './qos-e2e.js';
import { retained10k } from './retained-10k.js';
import type { Scenario } from './types.js';

/** Every scenario by its command-line name, in the order a full run executes them. */
export const scenarios: Readonly<Record<string, Scenario>> = {
  'fanin-qos0': faninQos0,
  'fanout-qos0': fanoutQos0,
  'qos1-e2e': qos1E2e,
  'qos2-e2e': qos2E2e,
  latency,
  'idle-connections': idleConnections,
  'retained-10k': retained10k,
  'offline-drain': offlineDrain,
  overload,
  'generator-ceiling': generatorCeiling,
};

/** What `npm run bench` runs when --scenarios is not given (the ceiling has its own target). */
export const defaultScenarioNames = Object.keys(scenarios).filter((n) => n !== 'generator-ceiling');

export * from './types.js';
