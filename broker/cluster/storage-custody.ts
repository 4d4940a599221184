// Who may read and write a broker's durable state (its shard prefix in a shared journal): the
// broker itself, or — once placement counts it dead — one other broker adopting its sessions.
// The answer lives in placement as a session object with the reserved client id
// `$cluster/storage/<broker id>`: its `brokerId` is the holder and `data` says the state, and
// every change is a conditional put on the object's mod index, so a broker coming back and a
// broker starting an adoption cannot both win.
//
//   self      the broker owns its state (written when it starts)
//   adopting  `by` is moving the sessions out; the owner waits before it reads its storage
//   adopted   done: every session of the state has another owner or was ended

import { CodedError } from '../../common/errors.js';
import type { PlacementClient } from '../../placement/client/placement-client.js';

export type CustodyState = 'self' | 'adopting' | 'adopted';

export interface Custody {
  state: CustodyState;
  /** The broker holding custody (the owner for `self`). */
  by: number;
  modIndex: number;
}

export const RESERVED_CLIENT_ID_PREFIX = '$cluster/';

function custodyId(brokerId: number): string {
  return `${RESERVED_CLIENT_ID_PREFIX}storage/${brokerId}`;
}

/** The broker whose custody marker `clientId` is; undefined for any other id. */
export function custodyOf(clientId: string): number | undefined {
  const prefix = `${RESERVED_CLIENT_ID_PREFIX}storage/`;
  if (!clientId.startsWith(prefix)) return undefined;
  const n = Number(clientId.slice(prefix.length));
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export async function readCustody(placement: PlacementClient, brokerId: number): Promise<Custody | undefined> {
  const o = await placement.getObject({ case: 'session', value: { clientId: custodyId(brokerId) } });
  if (o?.object?.object.case !== 'session') return undefined;
  const v = o.object.object.value;
  let state: CustodyState = 'self';
  try {
    const parsed = JSON.parse(new TextDecoder().decode(v.data)) as { state?: unknown };
    if (parsed.state === 'adopting' || parsed.state === 'adopted') state = parsed.state;
  } catch {
    // An unreadable marker counts as the owner's own: nobody adopts on a guess.
  }
  return { state, by: v.brokerId, modIndex: o.modIndex };
}

/**
 * Moves the custody of `brokerId`'s state to `state` held by `by`, if it still is at `expected`
 * (undefined: no marker yet). False when another broker changed it first.
 */
export async function setCustody(
  placement: PlacementClient, brokerId: number, state: CustodyState, by: number, expected: Custody | undefined,
): Promise<boolean> {
  try {
    await placement.putObject(
      {
        case: 'session',
        value: { clientId: custodyId(brokerId), brokerId: by, connected: false, lastChangeMs: Date.now(), data: new TextEncoder().encode(JSON.stringify({ state })) },
      },
      { expectedModIndex: expected?.modIndex ?? 0 },
    );
    return true;
  } catch (err: unknown) {
    if (err instanceof CodedError && (err.code === 'PC_CONFLICT' || err.code === 'PC_ALREADY_EXISTS')) return false;
    throw err;
  }
}
