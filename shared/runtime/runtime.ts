/**
 * The functions runtime: everything a function does not do itself. Per function: a durable
 * JetStream pull consumer (explicit acks, nak with backoff, term for TerminalError, max-deliver
 * and a dead-letter stream fed from the max-deliveries advisory); zod validation; verify before
 * acting (the Sentinels' quorum, not the event, says who is master); one serial lane per master;
 * a periodic resync of every master; requeues; metrics, health, graceful drain. The rules it
 * enforces, and why: docs/design.md ("Rules every function runs under", "Start-up rules").
 */
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { ConsumerConfig, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { headers, nanos } from "@nats-io/transport-node";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { NoQuorumError, RetryableError, TerminalError } from "../errors.ts";
import type { SentinelCloudEvent } from "../events.ts";
import { startProbeServer } from "../http-server.ts";
import type { ProbeServer } from "../http-server.ts";
import { logger } from "../logger.ts";
import { connectNats, untilNatsAnswers } from "../nats-connection.ts";
import { majority, SentinelPool } from "../sentinel-quorum.ts";
import type { MasterTruth } from "../sentinel-quorum.ts";
import { ensureStreams } from "../streams.ts";
import { DEADLETTER_SUBJECT_PREFIX } from "../subjects.ts";
import { Caches } from "./caches.ts";
import { functionConfig, mappingFor } from "./config.ts";
import type { RuntimeConfig } from "./config.ts";
import type { ReconcileContext, RedisAccess, SentinelClient } from "./context.ts";
import type { FunctionDefinition } from "./define-function.ts";
import { Kube, microTime } from "./kube.ts";
import { Lanes } from "./lanes.ts";
import { untilMastersMonitored } from "./monitored-masters.ts";
import { handleMessage } from "./handle-message.ts";
import type { ReconcileOutcome } from "./handle-message.ts";
import { runtimeMetrics } from "./metrics.ts";
import { redisAccess } from "./redis-access.ts";
import { Requeue } from "./requeue.ts";

const REPORTING_CONTROLLER = "failover-functions.io";
/** Deliveries (each waiting up to QUORUM_WAIT_MS, then 100 ms doubling) an event may be ahead of the Sentinels' quorum before it counts as forged. */
const AHEAD_DELIVERIES = 3;

export { backoffMs } from "./handle-message.ts";

/** The Sentinels as the runtime uses them: the functions' SentinelClient, plus what resync and shutdown need (SentinelPool is one). */
export interface RuntimeSentinels extends SentinelClient {
  /** Names of every master any Sentinel monitors. */
  masterNames(): Promise<string[]>;
  /** Each Sentinel's monitored master names; undefined where one does not answer. */
  monitored(): Promise<(string[] | undefined)[]>;
  close(): void;
}

/**
 * How the master an event names stands against the quorum's: agrees (or names none), ahead (same
 * or newer epoch, another address: the Sentinels may not have converged yet; under load a majority
 * was seen naming the dead old master at the event's own epoch for a while), or stale (older epoch).
 */
function against(event: SentinelCloudEvent | undefined, truth: MasterTruth): "agrees" | "ahead" | "stale" {
  const claimed = event?.data.newMaster;
  if (!event || !claimed || (claimed.host === truth.host && claimed.port === truth.port)) return "agrees";
  return (event.data.epoch ?? truth.epoch) >= truth.epoch ? "ahead" : "stale";
}

export class Runtime {
  readonly config: RuntimeConfig;
  readonly functions: FunctionDefinition[];
  readonly metrics = runtimeMetrics();
  readonly log = logger.child({ component: "runtime" });
  readonly kube: Kube;
  readonly caches: Caches;
  readonly sentinels: RuntimeSentinels;
  readonly redis: RedisAccess;
  /** Each function's own settings, parsed at construction (a bad value throws ConfigError naming the variable). */
  readonly #configs = new Map<string, object>();
  readonly #lanes = new Lanes();
  #nc: NatsConnection | undefined;
  #messages: ConsumerMessages[] = [];
  #advisories: Subscription[] = [];
  #loops: Promise<void>[] = [];
  #resyncTimer: NodeJS.Timeout | undefined;
  /** Reconciles to run again: a failed resync retried with backoff, a reconcile that returned `{ requeueAfterMs }`. */
  readonly #requeue = new Requeue();
  #http: ProbeServer | undefined;
  #consuming = false;
  #stopping = false;
  /** What start() waits for now (readiness detail). */
  #waitingFor: "sentinels" | "nats" | undefined;
  /** Fires on stop(): a start-up still waiting for NATS gives up, reconciles see `ctx.signal` abort. */
  readonly #shutdown = new AbortController();
  #warnedMapping = false;

  constructor(config: RuntimeConfig, functions: FunctionDefinition[], { env = process.env, kube, sentinels }: { env?: NodeJS.ProcessEnv; kube?: Kube; sentinels?: RuntimeSentinels } = {}) {
    if (functions.length === 0) throw new TerminalError("no functions to run");
    for (const fn of functions) this.#configs.set(fn.name, functionConfig(fn, env));
    this.config = config;
    this.functions = functions;
    this.kube = kube ?? new Kube();
    this.redis = redisAccess(config.REDIS_PASSWORD);
    this.caches = new Caches(this.kube, this.log);
    this.sentinels = sentinels ?? new SentinelPool({ sentinels: config.SENTINELS, password: config.SENTINEL_PASSWORD, quorum: config.SENTINEL_QUORUM });
  }

  ready(): { ok: boolean; detail: Record<string, unknown> } {
    const nats = this.#nc !== undefined && !this.#nc.isClosed();
    return { ok: nats && this.#consuming && !this.#stopping, detail: { nats, consuming: this.#consuming, waitingFor: this.#waitingFor ?? null, functions: this.functions.map((f) => f.name) } };
  }

  get httpPort(): number | undefined {
    return this.#http?.port;
  }

  async start(): Promise<void> {
    const c = this.config;
    this.#http = await startProbeServer({ host: c.HTTP_HOST, port: c.HTTP_PORT, registry: this.metrics.registry, ready: () => this.ready() });
    const mapped = Object.keys(c.MASTERS);
    if (mapped.length > 0) {
      // A master in MASTERS that no Sentinel monitors fails the start (ConfigError naming it and
      // what they do monitor) instead of "no Sentinel quorum" forever; unready meanwhile.
      this.#waitingFor = "sentinels";
      const needed = c.SENTINEL_QUORUM ?? majority(c.SENTINELS.length);
      await untilMastersMonitored({ mapped, sentinels: c.SENTINELS, needed, ask: () => this.sentinels.monitored(), log: this.log, signal: this.#shutdown.signal });
    }
    this.#waitingFor = "nats";
    const retry = { log: this.log, signal: this.#shutdown.signal };
    this.#nc = await connectNats(c, `functions:${this.functions.map((f) => f.name).join(",")}`, retry);
    const nc = this.#nc;
    await untilNatsAnswers("streams", () => ensureStreams(nc, { stream: c.STREAM, subjectPrefix: c.SUBJECT_PREFIX, deadletterStream: c.DEADLETTER_STREAM, duplicateWindowMs: c.DUPLICATE_WINDOW_MS, maxAgeMs: 7 * 24 * 3600_000, replicas: c.STREAM_REPLICAS }), retry);
    const jsm = await untilNatsAnswers("jetstream", () => jetstreamManager(nc), retry);
    const js = jetstream(nc);
    for (const fn of this.functions) {
      const name = `${c.CONSUMER_PREFIX}${fn.name}`;
      const cfg: Partial<ConsumerConfig> = {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        filter_subjects: fn.on.map((e) => `${c.SUBJECT_PREFIX}.*.${e}`),
        max_deliver: c.MAX_DELIVER,
        ack_wait: nanos(c.ACK_WAIT_MS),
        max_ack_pending: 1000,
      };
      await untilNatsAnswers(`consumer ${name}`, async () => {
        try {
          await jsm.consumers.info(c.STREAM, name);
          const { durable_name: _d, deliver_policy: _p, ...update } = cfg;
          await jsm.consumers.update(c.STREAM, name, update);
        } catch (err) {
          if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) await jsm.consumers.add(c.STREAM, cfg);
          else throw err;
        }
      }, retry);
      this.#advisories.push(this.#deadLetterOnMaxDeliveries(fn, name));
      const consumer = await untilNatsAnswers(`consumer ${name}`, () => js.consumers.get(c.STREAM, name), retry);
      const messages = await consumer.consume({ max_messages: 100 });
      this.#messages.push(messages);
      this.#loops.push(this.#consume(fn, messages));
    }
    this.#consuming = true;
    this.#waitingFor = undefined;
    this.log.info({ functions: this.functions.map((f) => f.name), stream: c.STREAM }, "runtime started");
    void this.resync();
    this.#resyncTimer = setInterval(() => void this.resync(), c.RESYNC_INTERVAL_MS);
  }

  async #consume(fn: FunctionDefinition, messages: ConsumerMessages): Promise<void> {
    for await (const msg of messages) {
      if (this.#stopping) {
        msg.nak();
        continue;
      }
      // Not awaited: the lane of this master serializes; other masters go on in parallel.
      void this.#handle(fn, msg);
    }
  }

  #handle(fn: FunctionDefinition, msg: JsMsg): Promise<void> {
    return handleMessage(msg, {
      fn: fn.name,
      log: this.log.child({ fn: fn.name }),
      metrics: this.metrics,
      inLane: (key, work) => this.#lanes.run(key, work),
      reconcile: (master, event, delivery) => this.reconcile(fn, master, event, delivery),
      requeue: (master, delayMs) => this.#requeueAfter(fn, master, delayMs),
      deadLetter: (why) => this.#deadLetter(fn, msg.subject, msg.data, msg.headers, why),
      signal: this.#shutdown.signal,
    });
  }

  /** Runs `fn` for `master` again in `delayMs` (at most the resync interval: the resync comes then anyway), with no event. */
  #requeueAfter(fn: FunctionDefinition, master: string, delayMs: number): void {
    const key = `${fn.name}/${master}`;
    const ms = Number.isFinite(delayMs) ? Math.min(Math.max(0, delayMs), this.config.RESYNC_INTERVAL_MS) : this.config.RESYNC_INTERVAL_MS;
    this.metrics.requeues.inc({ fn: fn.name });
    this.#requeue.after(key, ms, () => void this.#lanes.run(key, () => this.#resyncOne(fn, master, 0, "requeue")));
  }

  /**
   * Verify, then converge: ask the Sentinels who is master of `masterName` and run the function
   * on that truth. A switch-master the Sentinels contradict changes nothing:
   *  - same or newer epoch than the quorum's: the Sentinels may not have converged yet (they
   *    learn a new configuration from each other's hellos; under load a majority was seen naming
   *    the dead old master at the event's epoch): re-asked for QUORUM_WAIT_MS, retried, and after
   *    AHEAD_DELIVERIES deliveries reported as forged (Warning Event, metric), converging to the truth;
   *  - older epoch: stale (a replay), converge to the truth.
   */
  async reconcile(fn: FunctionDefinition, masterName: string, event: SentinelCloudEvent | undefined, delivery = 1): Promise<ReconcileOutcome> {
    const t0 = performance.now();
    const log = this.log.child({ fn: fn.name, master: masterName });
    const mapping = mappingFor(this.config, masterName);
    const ctx: ReconcileContext = {
      log,
      kube: this.kube,
      caches: this.caches,
      config: this.#configs.get(fn.name) ?? {},
      sentinels: this.sentinels,
      redis: this.redis,
      fieldManager: `${REPORTING_CONTROLLER}/${fn.name}`,
      event,
      recordEvent: (target, type, reason, note) => this.recordEvent(fn.name, target, type, reason, note),
      signal: this.#shutdown.signal,
    };
    let truth;
    try {
      truth = await this.#settledTruth(masterName, event);
    } catch (err) {
      if (err instanceof NoQuorumError) {
        this.metrics.noQuorum.inc({ fn: fn.name });
        await ctx.recordEvent({ kind: "StatefulSet", name: mapping.statefulSet, namespace: mapping.namespace }, "Warning", "NoSentinelQuorum", err.message.slice(0, 900));
        throw new RetryableError(err.message, { cause: err });
      }
      throw err;
    }
    const claimed = event?.data.newMaster;
    const verdict = against(event, truth);
    if (event && claimed && verdict !== "agrees") {
      const epoch = event.data.epoch ?? truth.epoch;
      if (verdict === "ahead" && delivery < AHEAD_DELIVERIES) {
        this.metrics.suspicious.inc({ fn: fn.name, kind: "ahead" });
        throw new RetryableError(`Sentinels say ${truth.host}:${truth.port} at epoch ${truth.epoch}, event ${event.attributes.id} says ${claimed.host}:${claimed.port} at epoch ${epoch}: waiting for them to converge`);
      }
      const kind = verdict === "ahead" ? "forged" : "stale";
      this.metrics.suspicious.inc({ fn: fn.name, kind });
      log.warn({ eventId: event.attributes.id, claimed, truth: { host: truth.host, port: truth.port, epoch: truth.epoch }, eventEpoch: event.data.epoch, kind }, "event contradicts the Sentinels, converging to their truth");
      if (kind === "forged") {
        await ctx.recordEvent({ kind: "StatefulSet", name: mapping.statefulSet, namespace: mapping.namespace }, "Warning", "ForgedFailoverEvent", `event ${event.attributes.id} names ${claimed.host}:${claimed.port} at epoch ${event.data.epoch}; the Sentinels say ${truth.host}:${truth.port} at epoch ${truth.epoch}`);
      }
    }
    const result = await fn.reconcile(ctx, { ...truth, mapping });
    this.metrics.reconcileDuration.observe({ fn: fn.name, trigger: event ? "event" : "resync" }, (performance.now() - t0) / 1000);
    if (event && event.data.event === "+switch-master" && claimed?.host === truth.host) {
      this.metrics.propagation.observe({ fn: fn.name }, Math.max(0, Date.now() - Date.parse(event.data.announcedAt)) / 1000);
    }
    return { requeueAfterMs: result?.requeueAfterMs, contradicted: verdict !== "agrees" };
  }

  /**
   * The quorum's master, asked again every 50 ms for up to QUORUM_WAIT_MS while the Sentinels
   * have not converged (no quorum, or the event names a newer epoch than they agree on): right
   * after a failover they learn it from each other's hellos within milliseconds to seconds, and
   * a nak with backoff would wait 100 ms, 200 ms, ... 3 s for it. Throws NoQuorumError, or returns
   * the last answer, after the deadline.
   */
  async #settledTruth(masterName: string, event: SentinelCloudEvent | undefined): Promise<MasterTruth> {
    const deadline = performance.now() + this.config.QUORUM_WAIT_MS;
    for (;;) {
      try {
        const truth = await this.sentinels.master(masterName);
        if (against(event, truth) !== "ahead" || performance.now() >= deadline || this.#stopping) return truth;
      } catch (err) {
        if (!(err instanceof NoQuorumError) || performance.now() >= deadline || this.#stopping) throw err;
      }
      await sleep(50);
    }
  }

  /** Reconciles every master with no event: a missed event heals by itself. */
  async resync(): Promise<void> {
    if (this.#stopping) return;
    let names = Object.keys(this.config.MASTERS);
    if (names.length === 0) {
      names = await this.sentinels.masterNames();
      if (names.length > 1) {
        if (!this.#warnedMapping) this.log.error({ masters: names }, "Sentinels monitor several masters but MASTERS maps none: set MASTERS so each gets its own objects");
        this.#warnedMapping = true;
        return;
      }
    }
    await Promise.all(this.functions.flatMap((fn) => names.map((name) => this.#lanes.run(`${fn.name}/${name}`, () => this.#resyncOne(fn, name, 0, "resync")))));
  }

  /** A reconcile with no event: the periodic resync, its retries, or a requeue the function asked for. */
  async #resyncOne(fn: FunctionDefinition, name: string, attempt: number, trigger: "resync" | "requeue"): Promise<void> {
    if (trigger === "resync") this.metrics.resyncs.inc({ fn: fn.name });
    await this.reconcile(fn, name, undefined).then((outcome) => {
      if (outcome.requeueAfterMs !== undefined) this.#requeueAfter(fn, name, outcome.requeueAfterMs);
    }, (err: unknown) => {
      if (this.#stopping) return; // stopped while it waited: nothing to retry
      this.metrics.failures.inc({ fn: fn.name, error: err instanceof Error ? err.name : "unknown" });
      this.log.warn({ err, fn: fn.name, master: name, attempt, trigger }, "resync reconcile failed");
      // No quorum yet (Sentinels still starting or mid-failover), the apiserver busy: try this
      // master again soon (250 ms doubling, at most the resync interval) instead of leaving it
      // wrong until the next resync. Measured with 200 masters: the first resync at start found
      // no quorum for 199 of them, which then stayed unconverged for 30 s.
      if (!(err instanceof TerminalError)) this.#retryResync(fn, name, attempt + 1);
    });
  }

  #retryResync(fn: FunctionDefinition, name: string, attempt: number): void {
    const key = `${fn.name}/${name}`;
    const delay = Math.min(250 * 2 ** (attempt - 1), this.config.RESYNC_INTERVAL_MS);
    this.#requeue.after(key, delay, () => void this.#lanes.run(key, () => this.#resyncOne(fn, name, attempt, "resync")));
  }

  /** A Kubernetes Event (events.k8s.io/v1); best effort: a failure is logged, never thrown. */
  async recordEvent(fn: string, target: { kind: "Pod" | "StatefulSet"; name: string; namespace: string; uid?: string }, type: "Normal" | "Warning", reason: string, note: string): Promise<void> {
    try {
      await this.kube.events.createNamespacedEvent({
        namespace: target.namespace,
        body: {
          // a unique name, as client-go's recorder makes them (generateName must itself be a valid name)
          metadata: { name: `${target.name}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`, namespace: target.namespace },
          eventTime: microTime(),
          reportingController: `${REPORTING_CONTROLLER}/${fn}`,
          reportingInstance: `${hostname()}/${fn}`.slice(0, 128),
          action: reason,
          reason,
          note: note.slice(0, 1000),
          type,
          regarding: { apiVersion: target.kind === "Pod" ? "v1" : "apps/v1", kind: target.kind, name: target.name, namespace: target.namespace, uid: target.uid },
        },
      });
    } catch (err) {
      this.log.warn({ err, fn, reason, target: target.name }, "could not record Kubernetes Event");
    }
  }

  #deadLetter(fn: FunctionDefinition, subject: string, data: Uint8Array, hdrs: JsMsg["headers"], why: string): void {
    const h = headers();
    for (const [k, v] of hdrs ?? []) for (const value of v) h.append(k, value);
    h.set("failover-dead-letter-reason", why);
    h.set("failover-original-subject", subject);
    h.delete("Nats-Msg-Id");
    this.#nc?.publish(`${DEADLETTER_SUBJECT_PREFIX}.${fn.name}`, data, { headers: h });
    this.metrics.deadLettered.inc({ fn: fn.name, why });
  }

  /** JetStream gives up after MAX_DELIVER; its advisory names the message, which we copy to the dead-letter stream. */
  #deadLetterOnMaxDeliveries(fn: FunctionDefinition, consumer: string): Subscription {
    const sub = this.#nc!.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${this.config.STREAM}.${consumer}`);
    void (async () => {
      const jsm = await jetstreamManager(this.#nc!);
      for await (const m of sub) {
        try {
          const advisory = m.json<{ stream_seq: number }>();
          const stored = await jsm.streams.getMessage(this.config.STREAM, { seq: advisory.stream_seq });
          if (stored) this.#deadLetter(fn, stored.subject, stored.data, stored.header, "max-deliveries");
          this.log.error({ fn: fn.name, seq: advisory.stream_seq }, "event dead-lettered after max deliveries");
        } catch (err) {
          this.log.warn({ err, fn: fn.name }, "could not dead-letter after max deliveries");
        }
      }
    })();
    return sub;
  }

  /** SIGTERM: stop taking events, finish the lanes, drain NATS. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#shutdown.abort();
    if (this.#resyncTimer) clearInterval(this.#resyncTimer);
    this.#requeue.stop();
    for (const m of this.#messages) m.stop();
    await Promise.allSettled(this.#loops);
    await this.#lanes.idle();
    for (const s of this.#advisories) s.unsubscribe();
    await this.#nc?.drain().catch(() => undefined);
    await this.caches.stop();
    this.sentinels.close();
    await this.#http?.close();
    this.log.info("runtime stopped");
  }
}

