/**
 * One verification per event in a process, however many functions it runs: the functions of a
 * process each receive the same event from their own consumer within milliseconds, and each would
 * ask every Sentinel the same question (and poll them while they converge). A verification of an
 * event still in flight is joined, not repeated; once it settles the next one asks again (the
 * truth is re-read for every new event and every resync, never cached).
 */
import type { MasterTruth } from "../sentinel-quorum.ts";

export class InFlightTruths {
  readonly #inFlight = new Map<string, Promise<MasterTruth>>();

  /** The truth for `master` as asked for event `eventId`: the verification in flight for it, or `ask()`. */
  for(master: string, eventId: string, ask: () => Promise<MasterTruth>): Promise<MasterTruth> {
    const key = `${master}\0${eventId}`;
    const inFlight = this.#inFlight.get(key);
    if (inFlight) return inFlight;
    const asked = ask().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, asked);
    return asked;
  }

  /** Verifications in flight now. */
  get size(): number {
    return this.#inFlight.size;
  }
}
