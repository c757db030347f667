/**
 * Caches: every master of a namespace read from one shared watch per kind, each master's objects
 * picked in memory by its own selector (a stand-in apiserver counts the lists and watches).
 */
import { createServer } from "node:http";
import type { Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectAccess } from "../kube-access.ts";
import { logger } from "../logger.ts";
import { Caches } from "./caches.ts";
import { Kube } from "./kube.ts";

const pod = (name: string, labels: Record<string, string>) => ({ metadata: { name, namespace: "redis", resourceVersion: "1", labels } });
const PODS = [
  pod("cache-0", { "redis.failover.io/master": "cache", role: "a" }),
  pod("cache-1", { "redis.failover.io/master": "cache", role: "b" }),
  pod("sessions-0", { "redis.failover.io/master": "sessions" }),
];
const slice = (name: string, service: string) => ({
  metadata: { name, namespace: "redis", resourceVersion: "1", labels: { "kubernetes.io/service-name": service } },
});
const SLICES = [slice("cache-master-x", "cache-master"), slice("sessions-master-y", "sessions-master")];

const requests: string[] = [];
const open: ServerResponse[] = [];
let server: Server;
let kube: Kube;

beforeAll(async () => {
  server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    const watch = u.searchParams.get("watch") === "1";
    requests.push(`${watch ? "watch" : "list"} ${u.pathname.split("/").at(-1)} ${u.searchParams.get("labelSelector") ?? ""}`);
    res.writeHead(200, { "content-type": "application/json" });
    if (watch) {
      open.push(res);
      return;
    }
    const items = u.pathname.endsWith("/pods") ? PODS : u.pathname.endsWith("/endpointslices") ? SLICES : [];
    res.end(JSON.stringify({ metadata: { resourceVersion: "1" }, items }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  kube = new Kube(new DirectAccess({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, insecureSkipTlsVerify: true }));
});

afterAll(async () => {
  for (const r of open) r.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("Caches", () => {
  it("reads every master's pods and EndpointSlices from one watch per kind, each master's own picked by its selector", async () => {
    const caches = new Caches(kube, logger.child({ test: "caches" }));
    try {
      const names = (xs: readonly { metadata?: { name?: string } }[]) => xs.map((x) => x.metadata?.name);
      expect(names(await caches.pods("redis", "redis.failover.io/master=cache"))).toEqual(["cache-0", "cache-1"]);
      expect(names(await caches.pods("redis", "redis.failover.io/master=sessions"))).toEqual(["sessions-0"]);
      expect(names(await caches.pods("redis", "redis.failover.io/master=cache,role!=a"))).toEqual(["cache-1"]);
      expect(names(await caches.endpointSlices("redis", "cache-master"))).toEqual(["cache-master-x"]);
      expect(names(await caches.endpointSlices("redis", "sessions-master"))).toEqual(["sessions-master-y"]);
      expect(requests.filter((r) => r.startsWith("list"))).toEqual([
        "list pods redis.failover.io/master",
        "list endpointslices kubernetes.io/service-name",
      ]);
    } finally {
      await caches.stop();
    }
  });
});
