/**
 * `failover manifests [--out <dir>] [--host-out <dir>] [--image <image>] [--module <path>] [<function | ./module.js | package>...]`:
 * each function's Deployment + metrics Service and ServiceAccount + Role + RoleBinding, from its own
 * declaration (shared/runtime/manifests.ts), as `deployments/<name>.yaml` and `rbac/<name>.yaml`
 * under --out (printed when there is none). With no function named: the built-ins of
 * manifests/base/functions (`npm run manifests` rewrites them there). --host-out: also the
 * kustomize component that runs them all in one process (components/functions-host).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { baseFunctions, functions } from "../functions/index.ts";
import { FunctionLoadError } from "../shared/errors.ts";
import { loadFunctions } from "../shared/runtime/load-functions.ts";
import { renderFunctionFiles, renderHostFiles } from "../shared/runtime/manifests.ts";

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { out: { type: "string" }, "host-out": { type: "string" }, image: { type: "string" }, module: { type: "string" } },
    });
  } catch (err) {
    console.error(`failover manifests: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const { values, positionals } = parsed;
  let fns;
  try {
    fns = positionals.length > 0 ? await loadFunctions(positionals, functions) : baseFunctions;
  } catch (err) {
    if (!(err instanceof FunctionLoadError)) throw err;
    console.error(`failover manifests: ${err.message}`);
    return 2;
  }
  if (values.module && fns.length !== 1) {
    console.error("failover manifests: --module names one module: give one function");
    return 2;
  }
  if (values.module && values["host-out"]) {
    console.error("failover manifests: --module is one function's own image; the host runs the project's image: give one or the other");
    return 2;
  }
  write(renderFunctionFiles(fns, { image: values.image, module: values.module }), values.out);
  if (values["host-out"]) write(renderHostFiles(fns, { image: values.image }), values["host-out"]);
  return 0;
}

function write(files: Record<string, string>, out: string | undefined): void {
  for (const [path, text] of Object.entries(files)) {
    if (out) {
      mkdirSync(dirname(join(out, path)), { recursive: true });
      writeFileSync(join(out, path), text);
      console.log(`wrote ${join(out, path)}`);
    } else {
      process.stdout.write(`${text}---\n`);
    }
  }
}
