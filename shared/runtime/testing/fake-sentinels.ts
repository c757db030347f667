/** Sentinels for unit tests: a scripted reply per `SENTINEL <args>` call, every call recorded. */
import { NoQuorumError } from "../../errors.ts";
import type { MasterTruth } from "../../sentinel-quorum.ts";
import type { SentinelClient } from "../context.ts";

/** Sentinel `index`'s reply to `SENTINEL <args>`; undefined = it does not answer. */
export type SentinelReplies = (index: number, args: readonly string[]) => unknown;

export interface SentinelCall {
  index: number;
  args: string[];
}

export class FakeSentinels implements SentinelClient {
  readonly size: number;
  /** Every `sentinel()` call, in order. */
  readonly calls: SentinelCall[] = [];
  /** What `master()` answers; undefined = no quorum. */
  truth: MasterTruth | undefined;
  replies: SentinelReplies;
  /** Whether close() was called (the runtime closes its Sentinels on stop). */
  closed = false;

  constructor({
    size = 3,
    truth,
    replies = () => undefined,
    monitors,
  }: { size?: number; truth?: MasterTruth | undefined; replies?: SentinelReplies; monitors?: (string[] | undefined)[] } = {}) {
    this.size = size;
    this.monitors = monitors;
    this.truth = truth;
    this.replies = replies;
  }

  async sentinel(index: number, ...args: string[]): Promise<unknown> {
    this.calls.push({ index, args });
    return Promise.resolve(this.replies(index, args));
  }

  async master(name: string): Promise<MasterTruth> {
    if (!this.truth || this.truth.name !== name) throw new NoQuorumError(name, "fake Sentinels have no truth for it");
    return Promise.resolve(this.truth);
  }

  /** What each Sentinel monitors (`SENTINEL MASTERS`); default: every one the truth's name. undefined = it does not answer. */
  monitors: (string[] | undefined)[] | undefined;

  async monitored(): Promise<(string[] | undefined)[]> {
    return Promise.resolve(this.monitors ?? Array.from({ length: this.size }, () => (this.truth ? [this.truth.name] : [])));
  }

  /** The masters any of them monitors. */
  async masterNames(): Promise<string[]> {
    return [...new Set((await this.monitored()).flatMap((m) => m ?? []))].sort();
  }

  close(): void {
    this.closed = true;
  }

  /** Calls whose first argument is `subcommand` (e.g. "RESET"). */
  callsOf(subcommand: string): SentinelCall[] {
    return this.calls.filter((c) => c.args[0]?.toUpperCase() === subcommand.toUpperCase());
  }
}

/** A `SENTINEL MASTER` reply (flat field list, as Sentinel sends it). */
export function sentinelMasterReply(fields: Record<string, string | number>): string[] {
  return Object.entries(fields).flatMap(([k, v]) => [k, String(v)]);
}
