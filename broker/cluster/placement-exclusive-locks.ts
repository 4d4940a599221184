// `$exclusive/` subscriptions held cluster-wide: one placement session object per locked filter,
// with the reserved client id `$cluster/exclusive/<filter>` and the holder's client id in `data`.
// Taking a free lock is a create-only put (expected mod index 0), so two brokers cannot both win;
// the holder is a client id, not a broker, so the lock follows its session from broker to broker.
// Locks of sessions that die with their broker are released by the adopting broker (adoption.ts).

import { CodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { PlacementClient } from '../../placement/client/placement-client.js';
import type { ExclusiveLocks } from '../mqtt/exclusive.js';
import { RESERVED_CLIENT_ID_PREFIX } from './storage-custody.js';

export const EXCLUSIVE_LOCK_PREFIX = `${RESERVED_CLIENT_ID_PREFIX}exclusive/`;

export function lockHolder(data: Uint8Array): string | undefined {
  try {
    const o = JSON.parse(new TextDecoder().decode(data)) as { clientId?: unknown };
    return typeof o.clientId === 'string' ? o.clientId : undefined;
  } catch {
    return undefined;
  }
}

export class PlacementExclusiveLocks implements ExclusiveLocks {
  constructor(
    private readonly placement: PlacementClient,
    private readonly brokerId: number,
    private readonly log: Logger,
  ) {}

  async acquire(filter: string, clientId: string): Promise<boolean> {
    const id = EXCLUSIVE_LOCK_PREFIX + filter;
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.placement.getObject({ case: 'session', value: { clientId: id } });
      if (cur?.object?.object.case === 'session') return lockHolder(cur.object.object.value.data) === clientId;
      try {
        await this.placement.putObject(
          { case: 'session', value: { clientId: id, brokerId: this.brokerId, lastChangeMs: Date.now(), data: new TextEncoder().encode(JSON.stringify({ clientId })) } },
          { expectedModIndex: 0 },
        );
        return true;
      } catch (err: unknown) {
        if (err instanceof CodedError && (err.code === 'PC_CONFLICT' || err.code === 'PC_ALREADY_EXISTS')) continue;
        throw err;
      }
    }
    return false;
  }

  release(filter: string, clientId: string): void {
    const id = EXCLUSIVE_LOCK_PREFIX + filter;
    void (async () => {
      const cur = await this.placement.getObject({ case: 'session', value: { clientId: id } });
      if (cur?.object?.object.case !== 'session' || lockHolder(cur.object.object.value.data) !== clientId) return;
      await this.placement.deleteObject({ case: 'session', value: { clientId: id } });
    })().catch((err: unknown) => this.log.warn('could not release an exclusive subscription', { filter, clientId, error: String(err) }));
  }
}
