/**
 * Bad input from issue 12, tried as a new user would, against the sandbox: MASTERS naming a master no
 * Sentinel monitors fails `failover run` at start with one line; Sentinels that do not answer are
 * waited for visibly (a log line per attempt), unready.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { failoverProcess, sandboxEnv } from "../../sandbox/failover-process.ts";
import type { ManagedProcess } from "../../sandbox/process.ts";

const run = promisify(execFile);
const ENTRY = fileURLToPath(new URL("../../bin/failover.ts", import.meta.url));

let sb: Sandbox;
const started: ManagedProcess[] = [];

beforeAll(async () => {
  sb = await startSandbox();
});

afterAll(async () => {
  for (const p of started) await p.stop();
  await sb?.stop();
});

describe("failover run with bad input", () => {
  it("MASTERS naming a master no Sentinel monitors: exit 2 at start, one line naming it and what they monitor", async () => {
    const env = {
      ...process.env,
      ...sandboxEnv(sb),
      NAMESPACE: sb.namespace,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "18240",
      MASTERS: '{"nosuch":{}}',
    };
    const err = await run(process.execPath, [ENTRY, "run", "label-master"], { env, timeout: 30_000 }).then(
      () => undefined,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(err?.code).toBe(2);
    const lines = err!.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      'failover run: bad configuration: MASTERS: master "nosuch" not monitored by any Sentinel; the Sentinels monitor "mymaster"',
    );
  });

  it("Sentinels unreachable at start: says so on every attempt, stays unready, and stops at once on SIGTERM", async () => {
    // the Sentinels' own addresses on a port nothing listens on
    const sentinels = sb.sentinelAddresses.map((a) => `${a.host}:1`).join(",");
    const fn = failoverProcess({
      name: "label-master (no sentinels)",
      args: ["run", "label-master"],
      env: { ...sandboxEnv(sb), SENTINELS: sentinels, NAMESPACE: sb.namespace, MASTERS: '{"mymaster":{}}', CONSUMER_PREFIX: "bad-input-" },
      httpPort: 18241,
      logFile: join(sb.dir, "fn-no-sentinels.log"),
      waitFor: "live",
    });
    started.push(fn);
    await fn.start();
    const attempts = () =>
      readFileSync(fn.spec.logFile, "utf8")
        .split("\n")
        .filter((l) => l.includes("sentinels not answering yet, retrying")).length;
    await waitFor("the wait logged three times", () => attempts() >= 3, { timeoutMs: 30_000, intervalMs: 100 });
    const readyz = await fetch("http://127.0.0.1:18241/readyz");
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({ waitingFor: "sentinels" });
    const t0 = performance.now();
    await fn.stop();
    expect(performance.now() - t0).toBeLessThan(3_000);
  });
});
