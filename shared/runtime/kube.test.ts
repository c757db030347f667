/**
 * Kube's write path against a stand-in apiserver: what apply and createEvent send (path, query,
 * content type, credentials), discovery for kinds it does not know, status codes mapped to the
 * project's errors; its request observers (the runtime's request-duration metric) and
 * onApiserverConnect (its connection counter). The real kube-apiserver: test/integration.
 */
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RbacError, RetryableError, TerminalError } from "../errors.ts";
import { DirectAccess } from "../kube-access.ts";
import { Kube, microTime, onApiserverConnect } from "./kube.ts";

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const discovery = JSON.stringify({
  kind: "APIResourceList",
  groupVersion: "example.io/v1",
  resources: [
    { name: "widgets", namespaced: true, kind: "Widget", verbs: ["patch"] },
    { name: "widgets/status", namespaced: true, kind: "Widget", verbs: ["patch"] },
    { name: "gadgets", namespaced: false, kind: "Gadget", verbs: ["patch"] },
  ],
});

/** A plain-HTTP stand-in apiserver: answers example.io/v1 discovery, and every other request with `status()` (200: the body sent back). */
async function standIn(status: () => number, seen: Seen[] = []): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (req.method === "GET" && req.url === "/apis/example.io/v1") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(discovery);
        return;
      }
      const code = status();
      res.writeHead(code, { "content-type": "application/json" });
      res.end(code === 200 ? body : JSON.stringify({ kind: "Status", apiVersion: "v1", code }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** The stand-in's address, a token, no TLS (plain HTTP needs insecure-skip-tls-verify, as client-node asks too). */
function accessFor(url: string): DirectAccess {
  return new DirectAccess({ server: url, insecureSkipTlsVerify: true, token: "the-token" });
}

const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "redis-master", namespace: "redis" }, data: { host: "a" } };
const event = {
  metadata: { name: "redis-0.x1", namespace: "redis" },
  eventTime: microTime(new Date("2026-12-02T10:00:00.123Z")),
  reportingController: "failover-functions.io/kube-events",
  reportingInstance: "i",
  action: "Failover",
  reason: "Failover",
};

let status = 200;
const seen: Seen[] = [];
let main: { server: Server; url: string };
let other: { server: Server; url: string };

beforeAll(async () => {
  main = await standIn(() => status, seen);
  other = await standIn(() => 200);
});

beforeEach(() => {
  status = 200;
  seen.length = 0;
});

afterAll(async () => {
  for (const s of [main.server, other.server]) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe("Kube writes", () => {
  it("server-side applies to the object's own path with the field manager, force and the kubeconfig's token", async () => {
    await new Kube(accessFor(main.url)).apply(configMap, "failover-functions.io/master-configmap");
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect(req?.method).toBe("PATCH");
    const url = new URL(req?.url ?? "", main.url);
    expect(url.pathname).toBe("/api/v1/namespaces/redis/configmaps/redis-master");
    expect(Object.fromEntries(url.searchParams)).toEqual({ fieldManager: "failover-functions.io/master-configmap", force: "true" });
    expect(req?.headers["content-type"]).toBe("application/apply-patch+yaml");
    expect(req?.headers.authorization).toBe("Bearer the-token");
    expect(JSON.parse(req?.body ?? "")).toEqual(configMap);
  });

  it("finds the path of a kind it does not know by discovery, once per apiVersion, cluster-scoped kinds without a namespace", async () => {
    const kube = new Kube(accessFor(main.url));
    await kube.apply({ apiVersion: "example.io/v1", kind: "Widget", metadata: { name: "w", namespace: "redis" } }, "m");
    await kube.apply({ apiVersion: "example.io/v1", kind: "Gadget", metadata: { name: "g" } }, "m");
    expect(seen.map((s) => `${s.method} ${s.url.split("?")[0]}`)).toEqual([
      "GET /apis/example.io/v1",
      "PATCH /apis/example.io/v1/namespaces/redis/widgets/w",
      "PATCH /apis/example.io/v1/gadgets/g",
    ]);
    seen.length = 0;
    const unknown = kube.apply({ apiVersion: "example.io/v1", kind: "Gizmo", metadata: { name: "z" } }, "m");
    await expect(unknown).rejects.toBeInstanceOf(TerminalError);
    await expect(unknown).rejects.toThrow(/no kind Gizmo in example.io\/v1/);
    expect(seen).toEqual([]); // not retried, and discovery not asked again
    await expect(kube.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "no-namespace" } }, "m")).rejects.toBeInstanceOf(
      TerminalError,
    );
  });

  it("maps 403 to RbacError, 404 to TerminalError, and retries 409 before giving up with RetryableError", async () => {
    const kube = new Kube(accessFor(main.url));
    status = 403;
    await expect(kube.apply(configMap, "m")).rejects.toBeInstanceOf(RbacError);
    status = 404;
    await expect(kube.apply(configMap, "m")).rejects.toBeInstanceOf(TerminalError);
    seen.length = 0;
    status = 409;
    await expect(kube.apply(configMap, "m")).rejects.toBeInstanceOf(RetryableError);
    expect(seen).toHaveLength(5);
  });

  it("creates an events.k8s.io/v1 Event, its eventTime in microseconds; a 409 is 'exists'", async () => {
    const kube = new Kube(accessFor(main.url));
    expect(await kube.createEvent(event)).toBe("created");
    expect(seen[0]?.method).toBe("POST");
    expect(seen[0]?.url).toBe("/apis/events.k8s.io/v1/namespaces/redis/events");
    const sent = JSON.parse(seen[0]?.body ?? "") as Record<string, unknown>;
    expect(sent).toMatchObject({ apiVersion: "events.k8s.io/v1", kind: "Event", eventTime: "2026-12-02T10:00:00.123000Z" });
    status = 409;
    expect(await kube.createEvent(event)).toBe("exists");
    status = 403;
    await expect(kube.createEvent(event)).rejects.toBeInstanceOf(RbacError);
  });
});

describe("Kube request observers", () => {
  it("are told verb, resource without the name, seconds and code of every attempt", async () => {
    const observed: [string, string, number, string][] = [];
    const kube = new Kube(accessFor(main.url)).observe((...x) => observed.push(x));
    await kube.apply(configMap, "test");
    status = 404;
    await expect(kube.apply(configMap, "test")).rejects.toBeInstanceOf(TerminalError);
    status = 409;
    expect(await kube.createEvent(event)).toBe("exists");
    expect(observed.map(([verb, resource, , code]) => `${verb} ${resource} ${code}`)).toEqual([
      "patch configmaps ok",
      "patch configmaps 404",
      "create events 409",
    ]);
    expect(observed.every(([, , seconds]) => seconds > 0 && seconds < 5)).toBe(true);
  });
});

describe("onApiserverConnect", () => {
  it("counts the connections opened to the kubeconfig's apiserver only, until unsubscribed", async () => {
    const kc = accessFor(main.url);
    let opened = 0;
    const stop = onApiserverConnect(kc.server, () => opened++);
    try {
      // Another server in the same process (a webhook receiver, say) is not the apiserver.
      await fetch(other.url, { method: "POST", body: "{}" }).then((r) => r.text());
      expect(opened).toBe(0);
      main.server.closeAllConnections();
      await new Kube(kc).apply(configMap, "test");
      expect(opened).toBe(1);
    } finally {
      stop();
    }
    // A fresh connection after unsubscribing: not counted.
    main.server.closeAllConnections();
    await new Kube(kc).apply(configMap, "test");
    expect(opened).toBe(1);
  });
});
