import { readCpuMs } from './proc-stats.js';

export interface CpuReading {
  /** Load generator CPU over the window, percent of one core. */
  loadgenPercent: number;
  /** Broker CPU over the window, percent of one core; null when it cannot be read. */
  brokerPercent: number | null;
  wallMs: number;
}

/**
 * Measures both sides' CPU over one window. A side near 100% of its core was the bottleneck;
 * if the load generator is the one saturated, the run measured the generator, not the broker.
 */
export class CpuMeter {
  private readonly brokerPid: number | null;
  private startWall = 0;
  private startSelf: NodeJS.CpuUsage = { user: 0, system: 0 };
  private startBroker: number | null = null;

  constructor(brokerPid: number | null) {
    this.brokerPid = brokerPid;
  }

  start(): void {
    this.startWall = performance.now();
    this.startSelf = process.cpuUsage();
    this.startBroker = this.brokerPid === null ? null : readCpuMs(this.brokerPid);
  }

  stop(): CpuReading {
    const wallMs = Math.max(1e-3, performance.now() - this.startWall);
    const self = process.cpuUsage(this.startSelf);
    const loadgenPercent = ((self.user + self.system) / 1000 / wallMs) * 100;
    let brokerPercent: number | null = null;
    if (this.brokerPid !== null && this.startBroker !== null) {
      const end = readCpuMs(this.brokerPid);
      if (end !== null) brokerPercent = ((end - this.startBroker) / wallMs) * 100;
    }
    return { loadgenPercent, brokerPercent, wallMs };
  }
}
