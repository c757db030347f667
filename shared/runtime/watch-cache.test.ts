/**
 * WatchCache against a stand-in apiserver that scripts its lists and watches: the list, then the
 * watch's events applied in order; a watch the apiserver ends resumed from the last version seen
 * (a bookmark's too); 410 Gone listed again; a failed watch reported and retried; stop() ends it.
 * The real kube-apiserver: test/integration (functions, functions-host, the node tests).
 */
import { createServer } from "node:http";
import type { ServerResponse, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DirectAccess } from "../kube-access.ts";
import { Kube } from "./kube.ts";
import { WatchCache } from "./watch-cache.ts";

const pod = (name: string, rv: string, labels: Record<string, string> = {}): KubernetesObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "redis", resourceVersion: rv, labels },
});

/** What the stand-in does for each list / watch request, in turn (the last one repeats). */
type ListAnswer = { items: KubernetesObject[]; rv: string } | { status: number };
type WatchAnswer = (res: ServerResponse) => void;

let server: Server;
let url: string;
let lists: ListAnswer[];
let watches: WatchAnswer[];
let requests: URLSearchParams[];
let open: ServerResponse[];

beforeEach(async () => {
  lists = [];
  watches = [];
  requests = [];
  open = [];
  let nList = 0;
  let nWatch = 0;
  server = createServer((req, res) => {
    const q = new URL(req.url ?? "/", "http://x").searchParams;
    requests.push(q);
    if (q.get("watch") === "1") {
      const answer = watches[Math.min(nWatch++, watches.length - 1)];
      open.push(res);
      if (answer) answer(res);
      else res.writeHead(200, { "content-type": "application/json" }); // stays open
      return;
    }
    const answer = lists[Math.min(nList++, lists.length - 1)]!;
    if ("status" in answer) {
      res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", code: answer.status }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "PodList", metadata: { resourceVersion: answer.rv }, items: answer.items }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  for (const r of open) r.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const events =
  (...e: object[]) =>
  (res: ServerResponse) => {
    res.writeHead(200, { "content-type": "application/json" });
    for (const x of e) res.write(`${JSON.stringify(x)}\n`);
  };
const thenEnd = (answer: WatchAnswer) => (res: ServerResponse) => {
  answer(res);
  res.end();
};

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await sleep(10);
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

function cache(errors: unknown[] = []) {
  const kube = new Kube(new DirectAccess({ server: url, insecureSkipTlsVerify: true }));
  return new WatchCache<KubernetesObject>(kube, "/api/v1/namespaces/redis/pods", "redis.failover.io/master", (e) => errors.push(e));
}

const names = (c: WatchCache<KubernetesObject>) =>
  c
    .list()
    .map((o) => `${o.metadata?.name}@${o.metadata?.resourceVersion}`)
    .sort();

describe("WatchCache", () => {
  it("lists, then applies the watch's events from the list's version, with the selector and bookmarks", async () => {
    lists = [{ items: [pod("a", "5"), pod("b", "6")], rv: "10" }];
    watches = [
      events(
        { type: "MODIFIED", object: pod("a", "11") },
        { type: "DELETED", object: pod("b", "12") },
        { type: "ADDED", object: pod("c", "13") },
      ),
    ];
    const c = cache();
    await c.start();
    expect(names(c).length).toBeGreaterThanOrEqual(2); // the list is in when start resolves
    await until("the events", () => names(c).join() === "a@11,c@13");
    expect(c.get("redis", "c")?.metadata?.resourceVersion).toBe("13");
    const watch = requests.find((q) => q.get("watch") === "1")!;
    expect(Object.fromEntries(watch)).toMatchObject({
      labelSelector: "redis.failover.io/master",
      resourceVersion: "10",
      allowWatchBookmarks: "true",
      watch: "1",
    });
    expect(Number(watch.get("timeoutSeconds"))).toBeGreaterThanOrEqual(300);
    await c.stop();
  });

  it("resumes a watch the apiserver ended from the last version seen, a bookmark's included, without listing again", async () => {
    lists = [{ items: [pod("a", "5")], rv: "10" }];
    watches = [
      thenEnd(
        events(
          { type: "ADDED", object: pod("b", "11") },
          { type: "BOOKMARK", object: { kind: "Pod", metadata: { resourceVersion: "20" } } },
        ),
      ),
    ];
    const c = cache();
    await c.start();
    await until("the second watch", () => requests.filter((q) => q.get("watch") === "1").length >= 2);
    const watched = requests.filter((q) => q.get("watch") === "1").map((q) => q.get("resourceVersion"));
    expect(watched.slice(0, 2)).toEqual(["10", "20"]);
    expect(requests.filter((q) => q.get("watch") !== "1")).toHaveLength(1);
    expect(names(c)).toEqual(["a@5", "b@11"]);
    await c.stop();
  });

  it("lists again on 410 Gone (its version compacted away): an object deleted meanwhile is gone", async () => {
    lists = [
      { items: [pod("a", "5"), pod("b", "6")], rv: "10" },
      { items: [pod("a", "30")], rv: "31" },
    ];
    watches = [thenEnd(events({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } })), events()];
    const errors: unknown[] = [];
    const c = cache(errors);
    await c.start();
    await until("the relist", () => names(c).join() === "a@30");
    await until("the watch from the new list", () => requests.some((q) => q.get("watch") === "1" && q.get("resourceVersion") === "31"));
    expect(errors).toEqual([]);
    await c.stop();
  });

  it("tells its listeners every object it takes in: watched changes and deletions, and on a relist what was listed and what is gone", async () => {
    lists = [
      { items: [pod("a", "5"), pod("b", "6")], rv: "10" },
      { items: [pod("a", "30")], rv: "31" },
    ];
    watches = [
      thenEnd(
        events(
          { type: "MODIFIED", object: pod("a", "11") },
          { type: "DELETED", object: pod("b", "12") },
          { type: "ADDED", object: pod("c", "13") },
          { type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } },
        ),
      ),
      events(),
    ];
    const seen: string[] = [];
    const c = cache();
    const off = c.onChange((o) => seen.push(`${o.metadata?.name}@${o.metadata?.resourceVersion}`));
    await c.start();
    await until("the relist", () => names(c).join() === "a@30");
    // The first list's objects too (a listener added before start), then the watch, then the relist: c gone, a listed.
    expect(seen).toEqual(["a@5", "b@6", "a@11", "b@12", "c@13", "c@13", "a@30"]);
    off();
    await c.stop();
  });

  it("keeps listed and watched objects without their managedFields, and hands them so to its listeners", async () => {
    const managed = (o: KubernetesObject): KubernetesObject => ({
      ...o,
      metadata: { ...o.metadata, managedFields: [{ manager: "kubelet", operation: "Update", fieldsType: "FieldsV1", fieldsV1: {} }] },
    });
    lists = [{ items: [managed(pod("a", "5"))], rv: "10" }];
    watches = [events({ type: "ADDED", object: managed(pod("b", "11", { role: "master" })) })];
    const seen: KubernetesObject[] = [];
    const c = cache();
    c.onChange((o) => seen.push(o));
    await c.start();
    await until("the watched pod", () => names(c).join() === "a@5,b@11");
    expect(c.list().map((o) => o.metadata?.managedFields)).toEqual([undefined, undefined]);
    expect(seen.map((o) => o.metadata?.managedFields)).toEqual([undefined, undefined]);
    expect(c.get("redis", "b")?.metadata?.labels).toEqual({ role: "master" }); // the rest of the object kept
    await c.stop();
  });

  it("reports a failed watch and retries it after a second; a failed first list rejects start", async () => {
    lists = [{ items: [pod("a", "5")], rv: "10" }];
    watches = [(res) => res.writeHead(500).end(), events({ type: "ADDED", object: pod("b", "11") })];
    const errors: unknown[] = [];
    const c = cache(errors);
    const started = Date.now();
    await c.start();
    await until("the retried watch's event", () => names(c).join() === "a@5,b@11");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/HTTP 500/);
    await c.stop();

    lists = [{ status: 429 }];
    await expect(cache().start()).rejects.toMatchObject({ code: 429 });
  });

  it("reads an event whose bytes arrive in pieces, a character split between them", async () => {
    lists = [{ items: [], rv: "1" }];
    const line = Buffer.from(`${JSON.stringify({ type: "ADDED", object: pod("grüße", "2", { note: "é" }) })}\n`);
    const cut = line.indexOf(Buffer.from("ü")) + 1; // inside the two bytes of "ü"
    watches = [
      (res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.write(line.subarray(0, cut));
        setTimeout(() => res.write(line.subarray(cut)), 50);
      },
    ];
    const c = cache();
    await c.start();
    await until("the event", () => c.list().length === 1);
    expect(c.get("redis", "grüße")?.metadata?.labels).toEqual({ note: "é" });
    await c.stop();
  });

  it("stop() ends an open watch at once", async () => {
    lists = [{ items: [], rv: "1" }];
    const c = cache();
    await c.start();
    await until("the watch", () => open.length === 1);
    const t = Date.now();
    await c.stop();
    expect(Date.now() - t).toBeLessThan(500);
  });
});
