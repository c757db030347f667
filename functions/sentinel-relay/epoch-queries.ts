/**
 * Config-epoch queries, one in flight per Sentinel and master, shared by the events that arrive
 * meanwhile. An event needs an answer the Sentinel gave after the event: the Sentinel published it
 * before answering any command sent later, so a query sent after the event was received is fresh
 * enough for it. One in flight already may have been sent before the event, so the event waits for
 * the next query instead, which goes out when that one settles, and which every event that arrives
 * until then shares. A failover sends a Sentinel's events for one master in bursts (a dozen within a
 * few milliseconds): each burst costs two queries instead of one per event.
 */
export type EpochQuery = () => Promise<number | null>;

interface Lane {
  /** The query on the wire. */
  inFlight: Promise<number | null>;
  /** The query that goes out when `inFlight` settles, for the events that arrived after it was sent. */
  next: Promise<number | null> | undefined;
}

export class EpochQueries {
  readonly #lanes = new Map<string, Lane>();
  /** Epochs asked for, and queries sent for them (one query answers several). */
  asked = 0;
  sent = 0;

  /** The epoch from a query sent after this call, sharing it with other callers for the same key. */
  epoch(key: string, query: EpochQuery): Promise<number | null> {
    this.asked++;
    const lane = this.#lanes.get(key);
    if (!lane) return this.#send(key, query);
    lane.next ??= lane.inFlight.then(
      () => this.#send(key, query),
      () => this.#send(key, query),
    );
    return lane.next;
  }

  #send(key: string, query: EpochQuery): Promise<number | null> {
    this.sent++;
    let inFlight: Promise<number | null>;
    try {
      inFlight = query().catch(() => null);
    } catch {
      inFlight = Promise.resolve(null);
    }
    const lane: Lane = { inFlight, next: undefined };
    this.#lanes.set(key, lane);
    void inFlight.then(() => {
      // the lane ends with its last query; a `next` waiting on this one replaces it in #send
      if (this.#lanes.get(key) === lane && lane.next === undefined) this.#lanes.delete(key);
    });
    return inFlight;
  }
}
