/**
 * `failover new hook <name> [--dir <parent>]`: writes a hook's folder (bin/scaffold-hook.ts) into
 * <parent>/<name> (default: the current directory), refusing a folder that exists.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { hookFiles } from "./scaffold-hook.ts";
import type { ScaffoldVersions } from "./scaffold-hook.ts";

const NAME = /^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/;

/** Versions from this package's own package.json (the source tree's, or the installed package's). */
function ownVersions(): ScaffoldVersions {
  const pkg = JSON.parse(readFileSync(fileURLToPath(import.meta.resolve("failover-functions/package.json")), "utf8")) as {
    version: string;
    dependencies: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const dev = pkg.devDependencies ?? {};
  return {
    runtime: pkg.version,
    zod: pkg.dependencies.zod ?? "^4",
    typescript: dev.typescript ?? "^6",
    vitest: dev.vitest ?? "^5",
    typesNode: dev["@types/node"] ?? "^24",
  };
}

/** Writes the hook `name` into `parent`; returns its folder. */
export function writeHook(parent: string, name: string, versions: ScaffoldVersions = ownVersions()): string {
  const dir = resolve(parent, name);
  if (existsSync(dir)) throw new Error(`${dir} exists already`);
  for (const [path, text] of Object.entries(hookFiles(name, versions))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

export function main(argv: string[]): Promise<number> {
  const usage = "usage: failover new hook <name> [--dir <parent directory>]   (name: a lowercase DNS label, e.g. slack-notify)";
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { dir: { type: "string" } } });
  } catch (err) {
    console.error(`failover new: ${err instanceof Error ? err.message : String(err)}\n${usage}`);
    return Promise.resolve(2);
  }
  const [kind, name, ...rest] = parsed.positionals;
  if (kind !== "hook" || name === undefined || rest.length > 0) {
    console.error(usage);
    return Promise.resolve(2);
  }
  if (!NAME.test(name)) {
    console.error(
      `failover new hook: ${JSON.stringify(name)} is not a lowercase DNS label (it becomes the consumer, the Deployment and the Role's name)`,
    );
    return Promise.resolve(2);
  }
  try {
    const dir = writeHook(parsed.values.dir ?? process.cwd(), name);
    console.log(`wrote ${dir}: npm install, then npm test (its unit test), npm run build, npm run manifests (deploy/)`);
    return Promise.resolve(0);
  } catch (err) {
    console.error(`failover new hook: ${err instanceof Error ? err.message : String(err)}`);
    return Promise.resolve(2);
  }
}
