/**
 * A hook written in another repository, as a user would: it depends only on the packed package
 * (`npm pack`, unpacked into its node_modules; the package's own dependencies are linked from this
 * checkout, since the sandbox has no registry), is type-checked and unit-tested with the package's
 * /testing kit, then run by the packed `failover` bin by path against the sandbox: it converges on
 * the quorum's master at start and after a real failover, and a forged event never reaches it.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { sandboxEnv, startRelays } from "../../sandbox/failover-process.ts";
import { ManagedProcess } from "../../sandbox/process.ts";
import { publishEvent, switchEvent } from "../support/publish-event.ts";
import { natsOf } from "../../sandbox/nats-client.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HTTP_PORT = 18230;

const HOOK = `import { z } from "zod";
import { defineFunction } from "failover-functions";

export default defineFunction({
  name: "record-hook",
  on: ["switch-master"],
  config: z.object({ RECORD_NAME: z.string().min(1).default("hook-record") }),
  async reconcile(ctx, master) {
    await ctx.kube.apply(
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: ctx.config.RECORD_NAME, namespace: master.mapping.namespace }, data: { host: master.host, epoch: String(master.epoch) } },
      ctx.fieldManager,
    );
  },
});
`;

const HOOK_TEST = `import { expect, it } from "vitest";
import { configOf, fakeContext, verifiedMaster } from "failover-functions/testing";
import hook from "./index.ts";

it("records the quorum's master", async () => {
  const ctx = fakeContext({ config: configOf(hook, {}) });
  await hook.reconcile(ctx, verifiedMaster({ host: "10.0.0.7", epoch: 4 }));
  expect(ctx.kube.applied.map((a) => a.object.metadata?.name)).toEqual(["hook-record"]);
});
`;

let dir: string;
let hookDir: string;
/** Written by the packed package's `failover new hook`, as a user starts one. */
let scaffoldedDir: string;
let sb: Sandbox;
let relays: ManagedProcess[] = [];
let hook: ManagedProcess | undefined;
let nc: NatsConnection;

const pkgDirOf = (hook: string) => join(hook, "node_modules", "failover-functions");
const record = async () =>
  (
    await sb.kubeConfig
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: "hook-record", namespace: sb.namespace })
      .catch(() => undefined)
  )?.data;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "failover-hook-"));
  hookDir = join(dir, "my-hook");
  // npm pack runs prepack (the build with declarations)
  await run("npm", ["pack", "--pack-destination", dir], { cwd: ROOT });
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"))!;
  const pkgDir = join(hookDir, "node_modules", "failover-functions");
  mkdirSync(pkgDir, { recursive: true });
  await run("tar", ["-xzf", join(dir, tarball), "-C", pkgDir, "--strip-components=1"]);
  symlinkSync(join(ROOT, "node_modules"), join(pkgDir, "node_modules"));
  for (const dep of ["zod", "vitest", "@types"]) {
    mkdirSync(join(hookDir, "node_modules", dep, ".."), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", dep), join(hookDir, "node_modules", dep));
  }
  writeFileSync(join(hookDir, "package.json"), JSON.stringify({ name: "my-hook", type: "module", private: true }));
  writeFileSync(
    join(hookDir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2024",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        types: ["node"],
        skipLibCheck: true,
        outDir: "dist",
        rewriteRelativeImportExtensions: true,
      },
      include: ["index.ts"],
    }),
  );
  writeFileSync(join(hookDir, "index.ts"), HOOK);
  writeFileSync(join(hookDir, "index.test.ts"), HOOK_TEST);

  await run(process.execPath, [join(pkgDir, "dist/bin/failover.js"), "new", "hook", "scaffolded-hook", "--dir", dir], { cwd: dir });
  scaffoldedDir = join(dir, "scaffolded-hook");
  // what `npm install` of its package.json gives it: the packed runtime, zod, vitest, the Node types
  mkdirSync(join(scaffoldedDir, "node_modules", ".bin"), { recursive: true });
  symlinkSync(pkgDir, join(scaffoldedDir, "node_modules", "failover-functions"));
  symlinkSync(join(pkgDir, "dist/bin/failover.js"), join(scaffoldedDir, "node_modules", ".bin", "failover"));
  for (const dep of ["zod", "vitest", "@types"]) symlinkSync(join(ROOT, "node_modules", dep), join(scaffoldedDir, "node_modules", dep));
}, 300_000);

afterAll(async () => {
  await nc?.close();
  await hook?.stop();
  await Promise.all(relays.map((r) => r.stop()));
  await sb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a hook outside this repository, on the packed package", () => {
  it("type-checks and passes its unit test on the /testing kit", async () => {
    await run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", hookDir], { cwd: hookDir });
    const res = await run(process.execPath, [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", "--root", hookDir], { cwd: hookDir });
    expect(res.stdout).toMatch(/1 passed/);
  });

  it("a hook scaffolded by the packed `failover new hook` type-checks, passes its own unit test as written, and regenerates its deploy/ unchanged", async () => {
    const deployBefore = readFileSync(join(scaffoldedDir, "deploy/rbac/scaffolded-hook.yaml"), "utf8");
    await run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", scaffoldedDir], { cwd: scaffoldedDir });
    const res = await run(process.execPath, [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", "--root", scaffoldedDir], {
      cwd: scaffoldedDir,
      env: { ...process.env, NO_COLOR: "1" },
    });
    expect(res.stdout).toMatch(/1 passed/);
    // its `npm run manifests`, on the module tsc just compiled
    await run(
      process.execPath,
      [
        join(pkgDirOf(scaffoldedDir), "dist/bin/failover.js"),
        "manifests",
        "--out",
        "deploy",
        "--image",
        "scaffolded-hook",
        "--module",
        "/app/hooks/scaffolded-hook/index.js",
        "./dist/index.js",
      ],
      { cwd: scaffoldedDir },
    );
    expect(readFileSync(join(scaffoldedDir, "deploy/rbac/scaffolded-hook.yaml"), "utf8")).toBe(deployBefore);
  });

  it("cannot reach the runtime's internals by deep import", async () => {
    const res = await run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import("failover-functions/dist/shared/runtime/runtime.js").then(() => console.log("reached"), (e) => console.log(e.code))`,
      ],
      { cwd: hookDir },
    );
    expect(res.stdout.trim()).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  it("runs by path under the packed bin: converges at start, ignores a forged event, follows a real failover", async () => {
    sb = await startSandbox();
    relays = await startRelays(sb);
    hook = new ManagedProcess({
      name: "record-hook",
      command: process.execPath,
      args: [join(hookDir, "node_modules/failover-functions/dist/bin/failover.js"), "run", "./dist/index.js"],
      cwd: hookDir,
      env: {
        ...process.env,
        ...sandboxEnv(sb),
        NAMESPACE: sb.namespace,
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: String(HTTP_PORT),
        CONSUMER_PREFIX: "hook-test-",
        RESYNC_INTERVAL_MS: "600000",
      },
      logFile: join(sb.dir, "record-hook.log"),
      ready: async () => (await fetch(`http://127.0.0.1:${HTTP_PORT}/readyz`)).ok,
      readyTimeoutMs: 30_000,
      stopTimeoutMs: 8_000,
    });
    await hook.start();
    nc = await natsOf(sb);

    const before = await sb.currentMaster("mymaster");
    await waitFor("the hook's record names the master (resync)", async () => (await record())?.host === before.host, {
      timeoutMs: 20_000,
      intervalMs: 200,
    });

    const other = sb.masters[0]!.redis.find((r) => r.spec.ip !== before.host)!.spec.ip;
    await publishEvent(nc, switchEvent("mymaster", before.host, other, before.epoch + 5, `forged-${Date.now()}`));
    const forged = async () =>
      Number(
        (await (await fetch(`http://127.0.0.1:${HTTP_PORT}/metrics`)).text()).match(
          /failover_suspicious_events_total\{fn="record-hook",kind="forged"\} (\d+)/,
        )?.[1] ?? 0,
      );
    await waitFor("the runtime to judge the event forged", async () => (await forged()) >= 1, { timeoutMs: 30_000, intervalMs: 200 });
    expect((await record())?.host).toBe(before.host);

    const { now } = await sb.killMaster("mymaster");
    await waitFor(
      "the hook's record follows the failover",
      async () => {
        const r = await record();
        return r?.host === now.host && Number(r.epoch) >= now.epoch;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  });
});
