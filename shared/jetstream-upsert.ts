/** "Create or update" of a JetStream stream or consumer, as both sides do at start. */
import { JetStreamApiError } from "@nats-io/jetstream";

export interface Upsert {
  /** The JetStream API error code saying it does not exist (StreamNotFound, ConsumerNotFound). */
  notFound: number;
  /** Looks it up: rejects with `notFound` when there is none. */
  info(): Promise<unknown>;
  update(): Promise<unknown>;
  add(): Promise<unknown>;
}

/** Updates it when it exists, adds it when JetStream answers `notFound` (to the look-up or the update); other errors are thrown. */
export async function createOrUpdate(u: Upsert): Promise<void> {
  try {
    await u.info();
    await u.update();
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === u.notFound) await u.add();
    else throw err;
  }
}
