/**
 * `npm run test:chaos [-- --server valkey] [vitest options]`: the chaos suite on the server family
 * asked for (FAILOVER_SERVER for the test files, test/support/server-family.ts), the rest of the
 * arguments handed to vitest as they are.
 */
import { spawn } from "node:child_process";
import { serverFamily } from "../../sandbox/paths.ts";

let server = "redis";
const rest: string[] = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg === "--server") server = args[++i] ?? "";
  else if (arg.startsWith("--server=")) server = arg.slice("--server=".length);
  else rest.push(arg);
}
try {
  serverFamily(server, "--server");
} catch (err) {
  console.error(`test:chaos: ${(err as Error).message}`);
  process.exit(2);
}
const child = spawn("vitest", ["run", "--config", "test/chaos/vitest.config.ts", ...rest], {
  stdio: "inherit",
  env: { ...process.env, FAILOVER_SERVER: server },
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
