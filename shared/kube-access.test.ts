/**
 * kube-access: what a function process reads from a kubeconfig or its pod's ServiceAccount, the
 * credentials and impersonation each request carries over one pool, the token file read again,
 * and a kubeconfig only client-node can serve (an exec plugin) handed to it. The real apiserver:
 * test/integration (the sandbox's kubeconfigs, the node's in-cluster pods).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigError } from "./errors.ts";
import { expectImpersonatedOverOnePool, IMPERSONATED_CALLS } from "../test/support/impersonation.ts";
import { DirectAccess, inClusterSettings, loadKubeAccess, planKubeconfig } from "./kube-access.ts";
import type { KubeAccess } from "./kube-access.ts";

const seen: IncomingHttpHeaders[] = [];
let connections = 0;
let server: Server;
let url: string;
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
  });
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), "kube-access-test-"));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => vi.useRealTimers());

/** One GET through `access`, as Kube sends it. */
async function call(access: KubeAccess): Promise<void> {
  const { headers, dispatcher } = await access.authenticate();
  const res = await request(`${access.server}/api/v1/namespaces/redis/configmaps/x`, { headers, ...(dispatcher ? { dispatcher } : {}) });
  await res.body.text();
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const kubeconfig = (user: object, cluster: object = { server: url, "insecure-skip-tls-verify": true }) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster }],
    users: [{ name: "u", user }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    "current-context": "x",
  });

describe("planKubeconfig", () => {
  it("reads YAML with file paths relative to the kubeconfig, and base64 data", () => {
    file("ca.pem", "CA");
    file("token", "tok\n");
    const yaml = file(
      "yaml-config",
      [
        "apiVersion: v1",
        "kind: Config",
        "current-context: x",
        "clusters:",
        "- name: c",
        "  cluster: {server: 'https://198.18.0.2:6443/', certificate-authority: ca.pem, tls-server-name: kubernetes}",
        "users:",
        `- name: u`,
        `  user: {tokenFile: token, client-certificate-data: ${Buffer.from("CERT").toString("base64")}, client-key-data: ${Buffer.from("KEY").toString("base64")}, as: someone}`,
        "contexts:",
        "- {name: other, context: {cluster: c, user: nobody}}",
        "- {name: x, context: {cluster: c, user: u}}",
      ].join("\n"),
    );
    const plan = planKubeconfig(yaml);
    expect("direct" in plan && plan.direct).toEqual({
      server: "https://198.18.0.2:6443/",
      ca: Buffer.from("CA"),
      cert: Buffer.from("CERT"),
      key: Buffer.from("KEY"),
      tlsServerName: "kubernetes",
      tokenFile: join(dir, "token"),
      impersonate: "someone",
    });
  });

  it("hands a user only client-node can serve to it, saying why", () => {
    const plan = planKubeconfig(file("exec-config", kubeconfig({ exec: { command: "aws" }, "as-groups": ["g"] })));
    expect(plan).toEqual({ clientNode: "an exec plugin, as-groups", server: url });
  });

  it("names the bad field, the missing context and the unreadable file, under KUBECONFIG", () => {
    const bad = (content: string) => () => planKubeconfig(file("bad-config", content));
    expect(bad(kubeconfig({}, { server: "198.18.0.2:6443" }))).toThrow(
      /^KUBECONFIG: kubeconfig .*: clusters\.0\.cluster\.server: expected an http\(s\) URL/,
    );
    expect(bad(kubeconfig({}).replace('"current-context":"x"', '"current-context":"gone"'))).toThrow(
      /^KUBECONFIG: .*current-context gone is not among its contexts/,
    );
    expect(bad("clusters: [unclosed")).toThrow(ConfigError);
    expect(() => planKubeconfig(join(dir, "absent"))).toThrow(/^KUBECONFIG: cannot read kubeconfig/);
    expect(bad(kubeconfig({ "client-certificate": "missing.pem" }))).toThrow(/^KUBECONFIG: kubeconfig .*: cannot read .*missing\.pem/);
    expect(
      bad(
        kubeconfig({}).replace(
          '"contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}]',
          '"contexts":[{"name":"x","context":{"cluster":"c","user":"gone"}}]',
        ),
      ),
    ).toThrow(/names user gone, which it does not define/);
  });
});

describe("DirectAccess", () => {
  it("sends the token, and Impersonate-User on a copy's requests only, over one pool", async () => {
    const host = new DirectAccess({ server: url, insecureSkipTlsVerify: true, token: "the-hosts-token" });
    seen.length = 0;
    connections = 0;
    for (const user of IMPERSONATED_CALLS) await call(user === undefined ? host : host.as(user));
    expectImpersonatedOverOnePool(seen, connections, "the-hosts-token");
  });

  it("the pool check above can fail: separate accesses open a connection each", async () => {
    connections = 0;
    for (let i = 0; i < 4; i++) await call(new DirectAccess({ server: url, insecureSkipTlsVerify: true }));
    expect(connections).toBe(4);
  });

  it("reads a token file again after a minute (the kubelet rotates it)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const token = file("rotating-token", "first\n");
    const access = new DirectAccess({ server: url, insecureSkipTlsVerify: true, tokenFile: token });
    expect((await access.authenticate()).headers.authorization).toBe("Bearer first");
    writeFileSync(token, "second\n");
    vi.advanceTimersByTime(59_000);
    expect((await access.authenticate()).headers.authorization).toBe("Bearer first");
    vi.advanceTimersByTime(1_000);
    expect((await access.authenticate()).headers.authorization).toBe("Bearer second");
  });

  it("refuses plain HTTP unless insecure-skip-tls-verify says so", () => {
    expect(() => new DirectAccess({ server: url })).toThrow(/^KUBECONFIG: server http:.*needs insecure-skip-tls-verify/);
  });
});

describe("loadKubeAccess", () => {
  it("in a pod: the ServiceAccount's CA and token file, an IPv6 service host in brackets", () => {
    const sa = mkdtempSync(join(dir, "sa-"));
    writeFileSync(join(sa, "ca.crt"), "CA");
    writeFileSync(join(sa, "token"), "t");
    expect(inClusterSettings({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, sa)).toEqual({
      server: "https://[fd00::1]:443",
      ca: Buffer.from("CA"),
      tokenFile: join(sa, "token"),
    });
  });

  it("refuses a KUBECONFIG list (one file only)", () => {
    expect(() => loadKubeAccess({ KUBECONFIG: "/a:/b" })).toThrow(/^KUBECONFIG: expected one kubeconfig file, got 2/);
  });

  it("a kubeconfig with an exec plugin: client-node runs it at the first request, and its token is sent", async () => {
    const credential = JSON.stringify({
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token: "from-the-plugin" },
    });
    const script = file("plugin.sh", `#!/bin/sh\necho '${credential}'\n`);
    const path = file(
      "exec-kubeconfig",
      kubeconfig({ exec: { apiVersion: "client.authentication.k8s.io/v1", command: "sh", args: [script], interactiveMode: "Never" } }),
    );
    const access = loadKubeAccess({ KUBECONFIG: path });
    expect(access).not.toBeInstanceOf(DirectAccess);
    expect(access.server).toBe(url);
    seen.length = 0;
    await call(access.as("system:serviceaccount:redis:label-master"));
    expect(seen[0]?.authorization).toBe("Bearer from-the-plugin");
    expect(seen[0]?.["impersonate-user"]).toBe("system:serviceaccount:redis:label-master");
  });
});
