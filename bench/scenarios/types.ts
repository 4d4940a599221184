import type { Credentials } from '../loadgen/mqtt-connection.js';

/** What a scenario is pointed at: a running broker (or the null sink). */
export interface BrokerTarget {
  /** ours | ours-auth | mosquitto | aedes | sink, or any label. */
  name: string;
  host: string;
  port: number;
  /** Process id to read RSS and CPU from /proc; null when unknown. */
  pid: number | null;
  /** Sent in every CONNECT of every client the scenario opens; absent = anonymous clients. */
  credentials?: Credentials;
}

/** Every knob a scenario reads; `defaultParams` and `quickParams` give the two presets. */
export interface ScenarioParams {
  /** Length of the measured window. */
  durationMs: number;
  /** Load applied before the window opens (connections warm, JITs compiled). */
  warmupMs: number;
  payloadSize: number;
  fanInPublishers: number;
  fanOutSubscribers: number;
  /** Publishes per second offered in fan-out's fixed-rate phase (each goes to every subscriber). */
  fanOutRate: number;
  /** Publishers in the QoS 1 / QoS 2 end-to-end scenarios. */
  qosPublishers: number;
  /** In-flight window per QoS 1/2 publisher. */
  qosWindow: number;
  latencyRate: number;
  idleConnections: number;
  /** Connects in progress at once while opening idle connections. */
  connectConcurrency: number;
  retainedTopics: number;
  offlineMessages: number;
  overloadPublishers: number;
  /** Overload stops early (and says so) once the broker's RSS passes this, to spare the machine. */
  overloadRssCapMb: number;
  /** Upper bound for any wait for stragglers (acks, drains) after a window closes. */
  settleMs: number;
}

export type MetricDirection = 'higher' | 'lower' | 'info';

export interface Metric {
  name: string;
  value: number | null;
  unit: string;
  better: MetricDirection;
}

export interface ScenarioResult {
  scenario: string;
  broker: string;
  /** False when the scenario could not complete (the error says why). */
  ok: boolean;
  error?: string;
  /** Ordered; the first is the scenario's headline number. */
  metrics: Metric[];
  /** CPU over the measured window, percent of one core, for each side. */
  loadgenCpuPercent: number | null;
  brokerCpuPercent: number | null;
  notes: string[];
  wallMs: number;
}

export type Scenario = (target: BrokerTarget, params: ScenarioParams) => Promise<ScenarioResult>;

export const defaultParams: ScenarioParams = {
  durationMs: 10_000,
  warmupMs: 1_000,
  payloadSize: 64,
  fanInPublishers: 50,
  fanOutSubscribers: 500,
  fanOutRate: 100,
  qosPublishers: 10,
  qosWindow: 500,
  latencyRate: 1_000,
  idleConnections: 10_000,
  connectConcurrency: 256,
  retainedTopics: 10_000,
  offlineMessages: 10_000,
  overloadPublishers: 4,
  overloadRssCapMb: 2_048,
  settleMs: 10_000,
};

export const quickParams: ScenarioParams = {
  ...defaultParams,
  durationMs: 2_000,
  warmupMs: 300,
  fanInPublishers: 10,
  fanOutSubscribers: 100,
  qosPublishers: 4,
  idleConnections: 1_000,
  retainedTopics: 2_000,
  offlineMessages: 2_000,
  overloadRssCapMb: 1_024,
  settleMs: 5_000,
};
