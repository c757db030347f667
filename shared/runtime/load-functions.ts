/**
 * What `failover run <spec>...` runs: a built-in function by name (the registry the entry point
 * hands in), or a user's module by path (`./dist/my-hook.js`, `/app/hooks/my-hook.js`) or by
 * package name (`@acme/slack-hook`, resolved from the runtime's own node_modules). A module's
 * default export is one defineFunction(...) or an array of them.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { FunctionLoadError } from "../errors.ts";
import { isFunctionDefinition } from "./define-function.ts";
import type { FunctionDefinition } from "./define-function.ts";

export type FunctionRegistry = Readonly<Record<string, FunctionDefinition>>;

const isPath = (spec: string) => spec.startsWith(".") || spec.startsWith("/");

function notFound(err: unknown): boolean {
  return err instanceof Error && "code" in err && (err.code === "ERR_MODULE_NOT_FOUND" || err.code === "ERR_PACKAGE_PATH_NOT_EXPORTED");
}

async function load(spec: string, builtins: FunctionRegistry, cwd: string): Promise<FunctionDefinition[]> {
  const builtin = builtins[spec];
  if (builtin) return [builtin];
  let mod: { default?: unknown };
  try {
    mod = (await import(isPath(spec) ? pathToFileURL(resolve(cwd, spec)).href : spec)) as { default?: unknown };
  } catch (err) {
    if (notFound(err) && !isPath(spec) && /^[a-z0-9-]+$/.test(spec)) {
      throw new FunctionLoadError(
        spec,
        `not a built-in function (${Object.keys(builtins).join(", ")}), nor an installed package; a module by path starts with ./ or /`,
        { cause: err },
      );
    }
    throw new FunctionLoadError(spec, `cannot import it: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const exported = Array.isArray(mod.default) ? (mod.default as unknown[]) : [mod.default];
  if (exported.length === 0 || !exported.every(isFunctionDefinition)) {
    throw new FunctionLoadError(spec, "its default export is not defineFunction(...) (or an array of them)");
  }
  return exported;
}

/** The functions `specs` name, in order; throws FunctionLoadError naming the first that fails, or a name given twice. */
export async function loadFunctions(
  specs: readonly string[],
  builtins: FunctionRegistry,
  { cwd = process.cwd() }: { cwd?: string } = {},
): Promise<FunctionDefinition[]> {
  const out: FunctionDefinition[] = [];
  for (const spec of specs) {
    for (const fn of await load(spec, builtins, cwd)) {
      if (out.some((f) => f.name === fn.name))
        throw new FunctionLoadError(spec, `a function named ${fn.name} is loaded already (names are consumer names: they must differ)`);
      out.push(fn);
    }
  }
  return out;
}
