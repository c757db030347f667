/**
 * The one Kubernetes client of a functions process: in-cluster config in a pod, KUBECONFIG
 * outside (shared/kube-access.ts); every API call over ONE shared keep-alive connection pool;
 * writes by server-side apply with the function's own field manager; 409/429/5xx and network
 * errors retried briefly, 403 reported as an RBAC problem naming the verb and resource; lists and
 * watches for the watch caches (watch-cache.ts).
 *
 * Every request is sent by undici directly, as JSON, not through @kubernetes/client-node's
 * generated clients: those convert every body and answer through their model classes (a third
 * more CPU per apply, `npm run bench:apply`), and loading them and the KubeConfig costs a process
 * about 90 MB of RSS (docs/design.md, "Decisions"). client-node's types and ApiException stay.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { setTimeout as sleep } from "node:timers/promises";
// The exception class alone: the package's index would load every generated client.
import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import type { EventsV1Event, KubernetesObject } from "@kubernetes/client-node";
import { request } from "undici";
import { RbacError, RetryableError, TerminalError } from "../errors.ts";
import { loadKubeAccess } from "../kube-access.ts";
import type { KubeAccess } from "../kube-access.ts";
import type { KubeClient } from "./context.ts";

const RETRIES = [50, 100, 200, 400];

/** Maps API errors to the project's: 403 -> RbacError, 409/429/5xx/network -> RetryableError, other 4xx -> TerminalError. */
export function classify(err: unknown, verb: string, resource: string, namespace?: string): Error {
  // Already the project's (a bad object, an unknown kind): kept, so a TerminalError is not retried.
  if (err instanceof TerminalError || err instanceof RetryableError) return err;
  if (err instanceof ApiException) {
    const code = err.code;
    if (code === 403) return new RbacError(verb, resource, namespace, { cause: err });
    if (code === 409 || code === 429 || code >= 500) return new RetryableError(`${verb} ${resource}: HTTP ${code}`, { cause: err });
    return new TerminalError(`${verb} ${resource}: HTTP ${code}`, { cause: err });
  }
  return new RetryableError(`${verb} ${resource}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** Told of every API request attempt: its verb, resource (plural, no name), seconds, and code ("ok", an HTTP status, "network"). */
export type RequestObserver = (verb: string, resource: string, seconds: number, code: string) => void;

/** Where a kind's objects live: its plural and whether it is namespaced. */
interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

/** The kinds the built-in functions write, known without asking the apiserver; any other kind is looked up once (discovery). */
const KNOWN_RESOURCES: Record<string, ResourceInfo> = {
  "v1/Pod": { plural: "pods", namespaced: true },
  "v1/ConfigMap": { plural: "configmaps", namespaced: true },
  "v1/Service": { plural: "services", namespaced: true },
  "discovery.k8s.io/v1/EndpointSlice": { plural: "endpointslices", namespaced: true },
  "events.k8s.io/v1/Event": { plural: "events", namespaced: true },
};

/** `/api/v1` or `/apis/<group>/<version>`. */
const apiPath = (apiVersion: string): string => (apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`);

type Method = "GET" | "POST" | "PATCH";

/** One watch event as the apiserver streams it (a line of JSON). */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubernetesObject & { code?: number; reason?: string; message?: string };
}

export class Kube implements KubeClient {
  readonly access: KubeAccess;
  #observers: RequestObserver[] = [];
  /** Discovery answers per apiVersion, for kinds not in KNOWN_RESOURCES (a failed lookup is forgotten). */
  readonly #discovered = new Map<string, Promise<(ResourceInfo & { kind: string })[]>>();

  constructor(access: KubeAccess = loadKubeAccess()) {
    this.access = access;
  }

  /** The same cluster and pool, every request made as `user` (a functions host acting as a function). */
  as(user: string): Kube {
    return new Kube(this.access.as(user));
  }

  /** Tells `observer` of every request attempt from now on (the runtime's request-duration metric). */
  observe(observer: RequestObserver): this {
    this.#observers.push(observer);
    return this;
  }

  /** Calls `fn`, retrying retryable failures a few times (50..400 ms), classifying the last error. */
  async call<T>(verb: string, resource: string, namespace: string | undefined, fn: () => Promise<T>): Promise<T> {
    const kind = resource.split("/", 1)[0] ?? resource;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#timed(verb, kind, fn);
      } catch (err) {
        const e = classify(err, verb, resource, namespace);
        if (!(e instanceof RetryableError) || attempt >= RETRIES.length) throw e;
        await sleep(RETRIES[attempt]);
      }
    }
  }

  /** One attempt of `fn`, its time and outcome ("ok", the HTTP status, "network") told to the observers. */
  async #timed<T>(verb: string, resource: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let code = "ok";
    try {
      return await fn();
    } catch (err) {
      code = err instanceof ApiException ? String(err.code) : "network";
      throw err;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      for (const o of this.#observers) o(verb, resource, seconds, code);
    }
  }

  /** Starts one request with the credentials (token, client certificate, Impersonate-User) over the pool. */
  async #start(
    method: Method,
    path: string,
    query: Record<string, string>,
    contentType: string | undefined,
    { body, signal, bodyTimeoutMs }: { body?: unknown; signal?: AbortSignal; bodyTimeoutMs?: number } = {},
  ) {
    const { headers, dispatcher } = await this.access.authenticate();
    const qs = new URLSearchParams(query).toString();
    return request(`${this.access.server}${path}${qs ? `?${qs}` : ""}`, {
      method,
      headers: {
        ...headers,
        accept: "application/json",
        "user-agent": "failover-functions",
        ...(contentType ? { "content-type": contentType } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...(dispatcher ? { dispatcher } : {}),
      ...(signal ? { signal } : {}),
      ...(bodyTimeoutMs !== undefined ? { bodyTimeout: bodyTimeoutMs } : {}),
    });
  }

  /**
   * One request; the answer parsed as JSON, a non-2xx status thrown as ApiException (what the
   * generated clients throw, so classify() reads answers of both).
   */
  async #send(
    method: Method,
    path: string,
    query: Record<string, string>,
    contentType: string | undefined,
    body?: unknown,
  ): Promise<unknown> {
    const res = await this.#start(method, path, query, contentType, { body });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (a proxy's error page): kept as text for the ApiException
    }
    if (res.statusCode < 200 || res.statusCode > 299) {
      throw new ApiException(res.statusCode, `${method} ${path}: HTTP ${res.statusCode}`, parsed, headersOf(res.headers));
    }
    return parsed;
  }

  /** A list (GET `path`), e.g. `/api/v1/namespaces/redis/pods` with `{ labelSelector }`; not retried (a watch cache retries). */
  async list<T extends KubernetesObject>(path: string, query: Record<string, string>): Promise<{ items: T[]; resourceVersion: string }> {
    const answer = (await this.#timed("list", path.split("/").at(-1) ?? path, () => this.#send("GET", path, query, undefined))) as {
      items?: T[];
      metadata?: { resourceVersion?: string };
    };
    return { items: answer.items ?? [], resourceVersion: answer.metadata?.resourceVersion ?? "" };
  }

  /**
   * A watch (GET `path?watch=1`): its events as they stream, until the apiserver ends it (its
   * timeout, `query.timeoutSeconds`), `signal` aborts it, or the connection fails (thrown). A
   * non-2xx answer is thrown as ApiException before the first event. A quiet watch may send
   * nothing for minutes: undici's 300 s body timeout is lifted to the watch's own timeout + 30 s.
   */
  async *watch(path: string, query: Record<string, string>, signal?: AbortSignal): AsyncGenerator<WatchEvent> {
    const timeoutSeconds = Number(query.timeoutSeconds);
    const bodyTimeoutMs = Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? (timeoutSeconds + 30) * 1000 : 0;
    const res = await this.#start("GET", path, { ...query, watch: "1" }, undefined, { signal, bodyTimeoutMs });
    if (res.statusCode < 200 || res.statusCode > 299) {
      const text = await res.body.text();
      throw new ApiException(res.statusCode, `watch ${path}: HTTP ${res.statusCode}`, text, headersOf(res.headers));
    }
    res.body.setEncoding("utf8"); // a character split between two chunks is decoded whole
    let rest = "";
    for await (const chunk of res.body) {
      rest += chunk as string;
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl).trim();
        rest = rest.slice(nl + 1);
        if (line) yield JSON.parse(line) as WatchEvent;
      }
    }
  }

  /** Where `apiVersion` `kind` objects live: known, else from the apiserver's discovery (cached). */
  async #resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const known = KNOWN_RESOURCES[`${apiVersion}/${kind}`];
    if (known) return known;
    let list = this.#discovered.get(apiVersion);
    if (!list) {
      list = this.#send("GET", apiPath(apiVersion), {}, undefined).then((answer) =>
        ((answer as { resources?: { name: string; kind: string; namespaced: boolean }[] }).resources ?? [])
          .filter((r) => !r.name.includes("/"))
          .map((r) => ({ plural: r.name, namespaced: r.namespaced, kind: r.kind })),
      );
      this.#discovered.set(apiVersion, list);
      list.catch(() => this.#discovered.delete(apiVersion));
    }
    const found = (await list).find((r) => r.kind === kind);
    if (!found) throw new TerminalError(`the apiserver serves no kind ${kind} in ${apiVersion}`);
    return found;
  }

  /** Server-side apply of `object` as `fieldManager` (force: this function owns these fields). */
  async apply<T extends KubernetesObject>(object: T, fieldManager: string): Promise<void> {
    const { apiVersion = "v1", kind = "", metadata = {} } = object;
    const resource = `${kind.toLowerCase()}s/${metadata.name ?? ""}`;
    await this.call("patch", resource, metadata.namespace, async () => {
      const where = await this.#resource(apiVersion, kind);
      if (!metadata.name) throw new TerminalError(`apply ${kind}: metadata.name is not set`);
      if (where.namespaced && !metadata.namespace) throw new TerminalError(`apply ${kind} ${metadata.name}: metadata.namespace is not set`);
      const scope = where.namespaced ? `/namespaces/${encodeURIComponent(metadata.namespace ?? "")}` : "";
      const path = `${apiPath(apiVersion)}${scope}/${where.plural}/${encodeURIComponent(metadata.name)}`;
      await this.#send("PATCH", path, { fieldManager, force: "true" }, "application/apply-patch+yaml", { ...object, apiVersion });
    });
  }

  /** Creates an Event once; a 409 (that name exists: another replica, or before a restart) is "exists", not an error. */
  async createEvent(event: EventsV1Event): Promise<"created" | "exists"> {
    const namespace = event.metadata?.namespace ?? "default";
    const body = { apiVersion: "events.k8s.io/v1", kind: "Event", ...event };
    const path = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`;
    try {
      await this.#timed("create", "events", () => this.#send("POST", path, {}, "application/json", body));
      return "created";
    } catch (err) {
      if (err instanceof ApiException && err.code === 409) return "exists";
      throw classify(err, "create", "events.events.k8s.io", namespace);
    }
  }
}

/** undici's response headers as the single-valued record ApiException carries. */
function headersOf(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]));
}

/**
 * Calls `onConnect` for every connection this process opens to the apiserver at `server` (undici's
 * `undici:client:connected` channel, which every undici client in the process reports to). A warm
 * pool opens one at start and then none: a connection per failover is a TLS handshake in its path.
 * Returns the unsubscribe.
 */
export function onApiserverConnect(server: string, onConnect: () => void): () => void {
  const { hostname, port, protocol } = new URL(server);
  const want = { hostname: hostname.replace(/^\[|\]$/g, ""), port: port || (protocol === "https:" ? "443" : "80") };
  const listener = (message: unknown): void => {
    // undici's payload: { connectParams: { hostname, port, ... }, ... }; only those two are read.
    const params = (message as { connectParams?: { hostname?: string; port?: string | number } }).connectParams;
    if (params?.hostname?.replace(/^\[|\]$/g, "") === want.hostname && String(params.port || want.port) === want.port) onConnect();
  };
  subscribe("undici:client:connected", listener);
  return () => void unsubscribe("undici:client:connected", listener);
}

/** Now as a Kubernetes MicroTime (RFC 3339 with exactly 6 fractional digits, as the apiserver parses it). */
export function microTime(at = new Date()): Date {
  // The generated client passes strings through unchanged; MicroTime is a string on the wire.
  return at.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;
}
