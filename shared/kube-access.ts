/**
 * How a functions process reaches the apiserver: its URL, one undici connection pool for every
 * request, and the credentials of each request (a token or a client certificate; Impersonate-User
 * for a functions host acting as each function). Read from the in-cluster ServiceAccount in a pod,
 * else from the one kubeconfig file KUBECONFIG (or ~/.kube/config) names.
 *
 * It does not load @kubernetes/client-node's KubeConfig: that module imports every generated API
 * client and auth provider, about 90 MB of a process's RSS (docs/design.md, "Decisions"). A
 * kubeconfig whose user needs what is not done here (an exec plugin, an auth-provider, basic
 * auth, a proxy) is handed to client-node's KubeConfig, loaded then and only then
 * (kube-access-client-node.ts).
 */
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { load as parseYaml } from "js-yaml";
import { Agent } from "undici";
import type { Dispatcher } from "undici";
import { z } from "zod";
import { ConfigError } from "./errors.ts";

/** What one request needs: the credentials' headers and the pool to send it over. */
export interface Authenticated {
  headers: Record<string, string>;
  dispatcher: Dispatcher | undefined;
}

export interface KubeAccess {
  /** The apiserver's URL, without a trailing slash. */
  readonly server: string;
  /** The headers (credentials, impersonation) and the dispatcher for one request. */
  authenticate(): Promise<Authenticated>;
  /** The same cluster and credentials over the same pool, every request made as `user` (Impersonate-User). */
  as(user: string): KubeAccess;
}

/** The user name of ServiceAccount `name` in `namespace`, as the apiserver authenticates it. */
export const serviceAccountUser = (namespace: string, name: string): string => `system:serviceaccount:${namespace}:${name}`;

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** A token file is read again this often: the kubelet rotates a projected token well before it expires. */
const TOKEN_FILE_REREAD_MS = 60_000;

/** A bearer token, fixed or read from a file (re-read every minute). */
class Token {
  readonly fixed: string | undefined;
  readonly file: string | undefined;
  #value: string | undefined;
  #readAt = 0;
  constructor(fixed: string | undefined, file: string | undefined) {
    this.fixed = fixed;
    this.file = file;
  }

  current(): string | undefined {
    if (this.fixed !== undefined) return this.fixed;
    if (this.file === undefined) return undefined;
    const now = Date.now();
    if (this.#value === undefined || now - this.#readAt >= TOKEN_FILE_REREAD_MS) {
      this.#value = readFileSync(this.file, "utf8").trim();
      this.#readAt = now;
    }
    return this.#value;
  }
}

/** TLS material and credentials, as plain values: what this module can do without client-node. */
export interface DirectSettings {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  token?: string;
  tokenFile?: string;
  /** kubeconfig `as`: every request made as this user. */
  impersonate?: string;
}

/** Requests over one undici Agent with the TLS material, a bearer token if any, Impersonate-User if set. */
export class DirectAccess implements KubeAccess {
  readonly server: string;
  readonly #settings: DirectSettings;
  readonly #pool: Agent;
  readonly #token: Token;
  readonly #as: string | undefined;

  constructor(settings: DirectSettings);
  constructor(settings: DirectSettings, shared: { pool: Agent; token: Token }, as: string | undefined);
  constructor(settings: DirectSettings, shared?: { pool: Agent; token: Token }, as?: string) {
    this.server = settings.server.replace(/\/+$/, "");
    if (this.server.startsWith("http:") && !settings.insecureSkipTlsVerify)
      throw new ConfigError("KUBECONFIG", `server ${this.server}: plain HTTP needs insecure-skip-tls-verify`);
    this.#pool =
      shared?.pool ??
      new Agent({
        connect: {
          ...(settings.ca ? { ca: settings.ca } : {}),
          ...(settings.cert ? { cert: settings.cert } : {}),
          ...(settings.key ? { key: settings.key } : {}),
          ...(settings.tlsServerName ? { servername: settings.tlsServerName } : {}),
          rejectUnauthorized: !settings.insecureSkipTlsVerify,
          // client-go's keep-alive probe: 30 s, inside a cloud load balancer's idle timeout
          keepAlive: true,
          keepAliveInitialDelay: 30_000,
        },
      });
    this.#token = shared?.token ?? new Token(settings.token, settings.tokenFile);
    this.#as = as ?? settings.impersonate;
    this.#settings = settings;
  }

  authenticate(): Promise<Authenticated> {
    const headers: Record<string, string> = {};
    const token = this.#token.current();
    if (token) headers.authorization = `Bearer ${token}`;
    if (this.#as !== undefined) headers["impersonate-user"] = this.#as;
    return Promise.resolve({ headers, dispatcher: this.#pool });
  }

  as(user: string): KubeAccess {
    return new DirectAccess(this.#settings, { pool: this.#pool, token: this.#token }, user);
  }
}

const optionalString = z.string().min(1).optional();
const kubeconfigSchema = z.object({
  "current-context": optionalString,
  clusters: z
    .array(
      z.object({
        name: z.string(),
        cluster: z.object({
          server: z.string().regex(/^https?:\/\//, "expected an http(s) URL"),
          "certificate-authority": optionalString,
          "certificate-authority-data": optionalString,
          "insecure-skip-tls-verify": z.boolean().optional(),
          "tls-server-name": optionalString,
          "proxy-url": optionalString,
        }),
      }),
    )
    .min(1),
  users: z
    .array(
      z.object({
        name: z.string(),
        user: z
          .object({
            token: optionalString,
            tokenFile: optionalString,
            "client-certificate": optionalString,
            "client-certificate-data": optionalString,
            "client-key": optionalString,
            "client-key-data": optionalString,
            as: optionalString,
            "as-groups": z.array(z.string()).optional(),
            exec: z.unknown().optional(),
            "auth-provider": z.unknown().optional(),
            username: optionalString,
            password: optionalString,
          })
          .nullish(),
      }),
    )
    .default([]),
  contexts: z.array(z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string().optional() }) })).min(1),
});

/** What a kubeconfig file asks for: settings this module can use, or a reason to hand it to client-node. */
export type KubeconfigPlan = { direct: DirectSettings } | { clientNode: string; server: string };

/** Reads the current context of one kubeconfig file (YAML or JSON); relative file paths are relative to it. */
export function planKubeconfig(path: string, key = "KUBECONFIG"): KubeconfigPlan {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError(key, `cannot read kubeconfig ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const parsed = kubeconfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(key, `kubeconfig ${path}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const cfg = parsed.data;
  const contextName = cfg["current-context"] ?? cfg.contexts[0]!.name;
  const context = cfg.contexts.find((c) => c.name === contextName)?.context;
  if (!context) throw new ConfigError(key, `kubeconfig ${path}: current-context ${contextName} is not among its contexts`);
  const cluster = cfg.clusters.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster)
    throw new ConfigError(key, `kubeconfig ${path}: context ${contextName} names cluster ${context.cluster}, which it does not define`);
  const entry = context.user === undefined ? undefined : cfg.users.find((x) => x.name === context.user);
  if (context.user !== undefined && entry === undefined)
    throw new ConfigError(key, `kubeconfig ${path}: context ${contextName} names user ${context.user}, which it does not define`);
  const u = entry?.user ?? {};
  const needs = [
    u.exec !== undefined && "an exec plugin",
    u["auth-provider"] !== undefined && "an auth-provider",
    (u.username !== undefined || u.password !== undefined) && "basic auth",
    u["as-groups"] !== undefined && "as-groups",
    cluster["proxy-url"] !== undefined && "a proxy-url",
  ].filter((x): x is string => typeof x === "string");
  if (needs.length > 0) return { clientNode: needs.join(", "), server: cluster.server };
  const relative = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : join(dirname(path), p));
  const file = (p: string | undefined) => {
    const where = relative(p);
    if (where === undefined) return undefined;
    try {
      return readFileSync(where);
    } catch (err) {
      throw new ConfigError(key, `kubeconfig ${path}: cannot read ${where}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  };
  const data = (b64: string | undefined) => (b64 === undefined ? undefined : Buffer.from(b64, "base64"));
  const direct: DirectSettings = { server: cluster.server };
  const ca = data(cluster["certificate-authority-data"]) ?? file(cluster["certificate-authority"]);
  const cert = data(u["client-certificate-data"]) ?? file(u["client-certificate"]);
  const keyPem = data(u["client-key-data"]) ?? file(u["client-key"]);
  if (ca) direct.ca = ca;
  if (cert) direct.cert = cert;
  if (keyPem) direct.key = keyPem;
  if (cluster["insecure-skip-tls-verify"]) direct.insecureSkipTlsVerify = true;
  if (cluster["tls-server-name"]) direct.tlsServerName = cluster["tls-server-name"];
  if (u.token) direct.token = u.token;
  const tokenFile = relative(u.tokenFile);
  if (tokenFile) direct.tokenFile = tokenFile;
  if (u.as) direct.impersonate = u.as;
  return { direct };
}

/** The in-cluster ServiceAccount: KUBERNETES_SERVICE_HOST/PORT, its CA and its (rotated) token file. */
export function inClusterSettings(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): DirectSettings {
  const host = env.KUBERNETES_SERVICE_HOST ?? "";
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  const bracketed = host.includes(":") ? `[${host}]` : host;
  return { server: `https://${bracketed}:${port}`, ca: readFileSync(join(dir, "ca.crt")), tokenFile: join(dir, "token") };
}

/**
 * This process's access: KUBECONFIG (one file), else in a pod the ServiceAccount, else
 * ~/.kube/config. A kubeconfig needing client-node's auth is handed to it (loaded lazily).
 */
export function loadKubeAccess(env: NodeJS.ProcessEnv = process.env): KubeAccess {
  const fromFile = (path: string): KubeAccess => {
    const plan = planKubeconfig(path);
    if ("direct" in plan) return new DirectAccess(plan.direct);
    return new LazyClientNodeAccess(plan.server, () =>
      import("./kube-access-client-node.ts").then((m) => m.accessFromKubeconfigFile(path)),
    );
  };
  const kubeconfig = env.KUBECONFIG;
  if (kubeconfig) {
    const files = kubeconfig.split(":").filter((p) => p !== "");
    if (files.length !== 1) throw new ConfigError("KUBECONFIG", `expected one kubeconfig file, got ${files.length} (${kubeconfig})`);
    return fromFile(files[0]!);
  }
  if (env.KUBERNETES_SERVICE_HOST) return new DirectAccess(inClusterSettings(env));
  const home = join(homedir(), ".kube", "config");
  try {
    statSync(home);
  } catch {
    throw new ConfigError("KUBECONFIG", `not set, not in a pod (no KUBERNETES_SERVICE_HOST), and ${home} does not exist`);
  }
  return fromFile(home);
}

/** A kubeconfig only client-node can use: its KubeConfig is loaded at the first request. */
class LazyClientNodeAccess implements KubeAccess {
  readonly server: string;
  readonly #load: () => Promise<KubeAccess>;
  #loaded: Promise<KubeAccess> | undefined;

  constructor(server: string, load: () => Promise<KubeAccess>) {
    this.server = server.replace(/\/+$/, "");
    this.#load = load;
  }

  #access(): Promise<KubeAccess> {
    this.#loaded ??= this.#load();
    return this.#loaded;
  }

  async authenticate(): Promise<Authenticated> {
    return (await this.#access()).authenticate();
  }

  as(user: string): KubeAccess {
    return new LazyClientNodeAccess(this.server, () => this.#access().then((a) => a.as(user)));
  }
}
