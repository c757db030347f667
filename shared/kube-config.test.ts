/** impersonating(): the Impersonate-User header on every call of the copy, none on the original's, one connection pool for all. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectImpersonatedOverOnePool, IMPERSONATED_CALLS } from "../test/support/impersonation.ts";
import { impersonating, loadKubeConfig } from "./kube-config.ts";

// A stand-in apiserver (plain HTTP): records each request's headers and counts connections.
const seen: IncomingHttpHeaders[] = [];
let connections = 0;
let server: Server;
let dir: string;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "redis-master", namespace: "redis" } }));
  });
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), "kube-config-test-"));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfigFile(): string {
  const path = join(dir, "kubeconfig");
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: url, "insecure-skip-tls-verify": true } }],
      users: [{ name: "u", user: { token: "the-hosts-token" } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    }),
  );
  return path;
}

/** A KubeConfig made in code (not loadKubeConfig's), for the stand-in apiserver. */
function plainKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: url, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

const read = (kc: KubeConfig) => kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: "redis-master", namespace: "redis" });

describe("impersonating", () => {
  it("sends Impersonate-User with the host's own credentials, on the copy's calls only, over one connection pool", async () => {
    const before = process.env.KUBECONFIG;
    process.env.KUBECONFIG = kubeconfigFile();
    const host = loadKubeConfig();
    if (before === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = before;
    seen.length = 0;
    connections = 0;
    for (const user of IMPERSONATED_CALLS) await read(user === undefined ? host : impersonating(host, user));
    expectImpersonatedOverOnePool(seen, connections, "the-hosts-token");
  });

  it("the counter above can fail: a plain KubeConfig opens a connection per call", async () => {
    const kc = plainKubeConfig();
    connections = 0;
    for (let i = 0; i < 4; i++) await read(kc);
    expect(connections).toBe(4);
  });

  it("copies a plain KubeConfig (a test's) without changing it", async () => {
    const kc = plainKubeConfig();
    seen.length = 0;
    await read(impersonating(kc, "system:serviceaccount:redis:kube-events"));
    await read(kc);
    expect(seen.map((h) => h["impersonate-user"])).toEqual(["system:serviceaccount:redis:kube-events", undefined]);
  });
});
