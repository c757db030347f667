/**
 * The functions runtime: everything a function does not do itself. Per function: a durable
 * JetStream pull consumer (consumer.ts: explicit acks, max-deliver; handle-message.ts: nak with
 * backoff, term for TerminalError; dead-letter.ts: a dead-letter stream fed also from the
 * max-deliveries advisory); zod validation; verify before acting (reconcile.ts, verdict.ts: the
 * Sentinels' quorum, not the event, says who is master); one serial lane per master; a periodic
 * resync of every master and requeues (resync.ts); metrics, health, graceful drain. This file
 * wires them together and runs start and stop. The rules it enforces, and why: docs/design.md
 * ("Rules every function runs under", "Start-up rules").
 */
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { TerminalError } from "../errors.ts";
import type { SentinelCloudEvent } from "../events.ts";
import { startProbeServer } from "../http-server.ts";
import type { ProbeServer } from "../http-server.ts";
import { logger } from "../logger.ts";
import { serviceAccountUser } from "../kube-access.ts";
import { connectNats, untilNatsAnswers } from "../nats-connection.ts";
import { majority } from "../sentinel-quorum.ts";
import { ensureStreams, streamSettingsOf } from "../streams.ts";
import { Caches } from "./caches.ts";
import { functionConfig, mappingFor } from "./config.ts";
import type { RuntimeConfig } from "./config.ts";
import { consumerConfig, consumerName, ensureConsumer } from "./consumer.ts";
import type { EventTarget, RedisAccess } from "./context.ts";
import { deadLetter, deadLetterOnMaxDeliveries } from "./dead-letter.ts";
import type { FunctionDefinition } from "./define-function.ts";
import { handleMessage } from "./handle-message.ts";
import type { ReconcileOutcome } from "./handle-message.ts";
import { Kube, onApiserverConnect } from "./kube.ts";
import { recordEvent } from "./kube-event.ts";
import { Lanes } from "./lanes.ts";
import { untilMastersMonitored } from "./monitored-masters.ts";
import { runtimeMetrics } from "./metrics.ts";
import { verifyAndReconcile } from "./reconcile.ts";
import type { Reconciler } from "./reconcile.ts";
import { redisAccess } from "./redis-access.ts";
import { Resync } from "./resync.ts";
import { InFlightTruths } from "./shared-truth.ts";
import { runtimeSentinels } from "./sentinels.ts";
import type { RuntimeSentinels } from "./sentinels.ts";

export { backoffMs } from "./handle-message.ts";
export type { RuntimeSentinels } from "./sentinels.ts";

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
  /** Each function's Kubernetes client when it acts as its own ServiceAccount (FUNCTION_IDENTITY=impersonate). */
  readonly #kubes = new Map<string, Kube>();
  readonly #unwatchConnections: () => void;
  readonly #lanes = new Lanes();
  readonly #resync: Resync;
  readonly #reconciler: Reconciler;
  #nc: NatsConnection | undefined;
  #messages: ConsumerMessages[] = [];
  #advisories: Subscription[] = [];
  #loops: Promise<void>[] = [];
  /** Unsubscribes of the pod watches that wake functions declaring wakeOnPods. */
  #podListeners: (() => void)[] = [];
  #http: ProbeServer | undefined;
  #consuming = false;
  #stopping = false;
  /** What start() waits for now (readiness detail). */
  #waitingFor: "sentinels" | "nats" | undefined;
  /** Fires on stop(): a start-up still waiting for NATS gives up, reconciles see `ctx.signal` abort. */
  readonly #shutdown = new AbortController();

  constructor(
    config: RuntimeConfig,
    functions: FunctionDefinition[],
    { env = process.env, kube, sentinels }: { env?: NodeJS.ProcessEnv; kube?: Kube; sentinels?: RuntimeSentinels } = {},
  ) {
    if (functions.length === 0) throw new TerminalError("no functions to run");
    for (const fn of functions) this.#configs.set(fn.name, functionConfig(fn, env));
    this.config = config;
    this.functions = functions;
    const observeRequest = (verb: string, resource: string, seconds: number, code: string) =>
      this.metrics.kubeRequest.observe({ verb, resource, code }, seconds);
    this.kube = (kube ?? new Kube()).observe(observeRequest);
    this.#unwatchConnections = onApiserverConnect(this.kube.access.server, () => this.metrics.kubeConnections.inc());
    if (config.FUNCTION_IDENTITY === "impersonate") {
      for (const fn of functions) {
        const own = this.kube.as(serviceAccountUser(config.NAMESPACE, fn.name));
        this.#kubes.set(fn.name, own.observe(observeRequest));
      }
    }
    this.redis = redisAccess(config.REDIS_PASSWORD);
    this.caches = new Caches(this.kube, this.log);
    this.sentinels = sentinels ?? runtimeSentinels(config);
    this.#reconciler = {
      config,
      log: this.log,
      metrics: this.metrics,
      kubeOf: (fn) => this.kubeOf(fn.name),
      caches: this.caches,
      sentinels: this.sentinels,
      truths: new InFlightTruths(),
      redis: this.redis,
      configOf: (fn) => this.#configs.get(fn.name) ?? {},
      recordEvent: (fn, target, type, reason, note) => this.recordEvent(fn, target, type, reason, note),
      signal: this.#shutdown.signal,
    };
    this.#resync = new Resync({
      config,
      functions,
      sentinels: this.sentinels,
      lanes: this.#lanes,
      metrics: this.metrics,
      log: this.log,
      reconcile: (fn, master) => this.reconcile(fn, master, undefined),
      signal: this.#shutdown.signal,
    });
  }

  ready(): { ok: boolean; detail: Record<string, unknown> } {
    const nats = this.#nc !== undefined && !this.#nc.isClosed();
    return {
      ok: nats && this.#consuming && !this.#stopping,
      detail: { nats, consuming: this.#consuming, waitingFor: this.#waitingFor ?? null, functions: this.functions.map((f) => f.name) },
    };
  }

  get httpPort(): number | undefined {
    return this.#http?.port;
  }

  async start(): Promise<void> {
    const c = this.config;
    this.#http = await startProbeServer({
      host: c.HTTP_HOST,
      port: c.HTTP_PORT,
      registry: this.metrics.registry,
      ready: () => this.ready(),
    });
    const mapped = Object.keys(c.MASTERS);
    if (mapped.length > 0) {
      // A master in MASTERS that no Sentinel monitors fails the start (ConfigError naming it and
      // what they do monitor) instead of "no Sentinel quorum" forever; unready meanwhile.
      this.#waitingFor = "sentinels";
      const needed = c.SENTINEL_QUORUM ?? majority(c.SENTINELS.length);
      await untilMastersMonitored({
        mapped,
        sentinels: c.SENTINELS,
        needed,
        ask: () => this.sentinels.monitored(),
        log: this.log,
        signal: this.#shutdown.signal,
      });
    }
    this.#waitingFor = "nats";
    const retry = { log: this.log, signal: this.#shutdown.signal };
    this.#nc = await connectNats(c, `functions:${this.functions.map((f) => f.name).join(",")}`, retry);
    const nc = this.#nc;
    await untilNatsAnswers("streams", () => ensureStreams(nc, streamSettingsOf(c)), retry);
    const jsm = await untilNatsAnswers("jetstream", () => jetstreamManager(nc), retry);
    const js = jetstream(nc);
    for (const fn of this.functions) {
      const name = consumerName(c, fn);
      await untilNatsAnswers(`consumer ${name}`, () => ensureConsumer(jsm, c.STREAM, consumerConfig(c, fn)), retry);
      this.#advisories.push(deadLetterOnMaxDeliveries(nc, c.STREAM, name, fn.name, this.metrics, this.log));
      const consumer = await untilNatsAnswers(`consumer ${name}`, () => js.consumers.get(c.STREAM, name), retry);
      const messages = await consumer.consume({ max_messages: 100 });
      this.#messages.push(messages);
      this.#loops.push(this.#consume(fn, messages));
    }
    this.#loops.push(this.#wakeOnPods());
    this.#consuming = true;
    this.#waitingFor = undefined;
    this.log.info({ functions: this.functions.map((f) => f.name), stream: c.STREAM }, "runtime started");
    this.#resync.start();
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

  /**
   * Functions declaring wakeOnPods run for a master (in its lane, with no event) whenever a pod of
   * its set changes. The masters are MASTERS', or the one the Sentinels monitor; a watch that cannot
   * be listed yet (apiserver down, RBAC) is retried every second until stop.
   */
  async #wakeOnPods(): Promise<void> {
    const fns = this.functions.filter((f) => f.wakeOnPods);
    if (fns.length === 0) return;
    const c = this.config;
    const signal = this.#shutdown.signal;
    let names = Object.keys(c.MASTERS);
    while (names.length === 0 && !signal.aborted) {
      names = await this.sentinels.masterNames();
      if (names.length === 0) await sleep(1000, undefined, { signal }).catch(() => undefined);
    }
    // Several masters with no MASTERS entries share one mapping: the resync refuses them (and says
    // so); waking on their pods would run the same refused reconcile.
    if (Object.keys(c.MASTERS).length === 0 && names.length > 1) return;
    for (const name of names) {
      const { namespace, podSelector } = mappingFor(c, name);
      while (!signal.aborted) {
        try {
          const off = await this.caches.onPods(namespace, podSelector, () => {
            for (const fn of fns) this.#resync.wake(fn, name);
          });
          this.#podListeners.push(off);
          break;
        } catch (err) {
          this.log.warn({ err, master: name, namespace, podSelector }, "pod watch not listed yet, retrying");
          await sleep(1000, undefined, { signal }).catch(() => undefined);
        }
      }
    }
  }

  #handle(fn: FunctionDefinition, msg: JsMsg): Promise<void> {
    return handleMessage(msg, {
      fn: fn.name,
      log: this.log.child({ fn: fn.name }),
      metrics: this.metrics,
      inLane: (key, work) => this.#lanes.run(key, work),
      reconcile: (master, event, delivery) => this.reconcile(fn, master, event, delivery),
      requeue: (master, delayMs) => this.#resync.requeueAfter(fn, master, delayMs),
      deadLetter: (why) => deadLetter(this.#nc, this.metrics, fn.name, msg.subject, msg.data, msg.headers, why),
      signal: this.#shutdown.signal,
    });
  }

  /** Verify against the Sentinels' quorum, then the function's reconcile (reconcile.ts). */
  reconcile(fn: FunctionDefinition, masterName: string, event: SentinelCloudEvent | undefined, delivery = 1): Promise<ReconcileOutcome> {
    return verifyAndReconcile(this.#reconciler, fn, masterName, event, delivery);
  }

  /** Reconciles every master with no event: a missed event heals by itself. */
  resync(): Promise<void> {
    return this.#resync.all();
  }

  /** Function `fn`'s Kubernetes client: its own ServiceAccount's under FUNCTION_IDENTITY=impersonate, else the process's. */
  kubeOf(fn: string): Kube {
    return this.#kubes.get(fn) ?? this.kube;
  }

  /** A Kubernetes Event (events.k8s.io/v1) as function `fn`; best effort: a failure is logged, never thrown. */
  recordEvent(fn: string, target: EventTarget, type: "Normal" | "Warning", reason: string, note: string): Promise<void> {
    return recordEvent(this.kubeOf(fn), this.log, fn, target, type, reason, note);
  }

  /** SIGTERM: stop taking events, finish the lanes, drain NATS. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#shutdown.abort();
    this.#resync.stop();
    for (const m of this.#messages) m.stop();
    await Promise.allSettled(this.#loops);
    for (const off of this.#podListeners) off();
    await this.#lanes.idle();
    for (const s of this.#advisories) s.unsubscribe();
    await this.#nc?.drain().catch(() => undefined);
    await this.caches.stop();
    this.sentinels.close();
    this.#unwatchConnections();
    await this.#http?.close();
    this.log.info("runtime stopped");
  }
}
