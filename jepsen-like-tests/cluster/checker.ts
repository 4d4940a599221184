// The checker over a recorded cluster history: every publish the broker acknowledged reached every
// persistent subscriber at least once (QoS 1) or exactly once (QoS 2), and each subscriber saw
// each publisher's messages in publish order (duplicates of QoS 1 may repeat an earlier one).
// Pure: the history in, a verdict with every violation out.

export interface PublishRecord {
  publisher: string;
  seq: number;
  qos: 1 | 2;
  acked: boolean;
}

export interface DeliveryRecord {
  subscriber: string;
  publisher: string;
  seq: number;
}

export interface Verdict {
  ok: boolean;
  acked: number;
  lost: Array<{ subscriber: string; publisher: string; seq: number }>;
  duplicatedQos2: Array<{ subscriber: string; publisher: string; seq: number; times: number }>;
  outOfOrder: Array<{ subscriber: string; publisher: string; after: number; got: number }>;
}

export function checkHistory(publishes: readonly PublishRecord[], deliveries: readonly DeliveryRecord[], subscribers: readonly string[]): Verdict {
  const seen = new Map<string, Map<string, number>>();
  const outOfOrder: Verdict['outOfOrder'] = [];
  const highest = new Map<string, number>();
  for (const d of deliveries) {
    const key = `${d.subscriber}\u0000${d.publisher}`;
    let counts = seen.get(key);
    if (counts === undefined) seen.set(key, (counts = new Map()));
    const n = counts.get(String(d.seq)) ?? 0;
    counts.set(String(d.seq), n + 1);
    const top = highest.get(key) ?? 0;
    // A first delivery below the highest seen is a reordering; a repeat is a (QoS 1) duplicate.
    if (n === 0 && d.seq < top) outOfOrder.push({ subscriber: d.subscriber, publisher: d.publisher, after: top, got: d.seq });
    if (d.seq > top) highest.set(key, d.seq);
  }
  const lost: Verdict['lost'] = [];
  const duplicatedQos2: Verdict['duplicatedQos2'] = [];
  let acked = 0;
  for (const p of publishes) {
    if (!p.acked) continue;
    acked++;
    for (const s of subscribers) {
      const times = seen.get(`${s}\u0000${p.publisher}`)?.get(String(p.seq)) ?? 0;
      if (times === 0) lost.push({ subscriber: s, publisher: p.publisher, seq: p.seq });
      if (p.qos === 2 && times > 1) duplicatedQos2.push({ subscriber: s, publisher: p.publisher, seq: p.seq, times });
    }
  }
  return { ok: lost.length === 0 && duplicatedQos2.length === 0 && outOfOrder.length === 0, acked, lost, duplicatedQos2, outOfOrder };
}
