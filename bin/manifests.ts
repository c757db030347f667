/**
 * `failover manifests [--out <dir>] [--image <image>] [--module <path>] [<function | ./module.js | package>...]`:
 * each function's Deployment + metrics Service and ServiceAccount + Role + RoleBinding, from its own
 * declaration (shared/runtime/manifests.ts), as `deployments/<name>.yaml` and `rbac/<name>.yaml`
 * under --out (printed when there is none). With no function named: the built-ins of
 * manifests/base/functions (`npm run manifests` rewrites them there).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { baseFunctions, functions } from "../functions/index.ts";
import { FunctionLoadError } from "../shared/errors.ts";
import { loadFunctions } from "../shared/runtime/load-functions.ts";
import { renderFunctionFiles } from "../shared/runtime/manifests.ts";

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { out: { type: "string" }, image: { type: "string" }, module: { type: "string" } },
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
  const files = renderFunctionFiles(fns, { image: values.image, module: values.module });
  for (const [path, text] of Object.entries(files)) {
    if (values.out) {
      mkdirSync(dirname(join(values.out, path)), { recursive: true });
      writeFileSync(join(values.out, path), text);
      console.log(`wrote ${join(values.out, path)}`);
    } else {
      process.stdout.write(`${text}---\n`);
    }
  }
  return 0;
}
