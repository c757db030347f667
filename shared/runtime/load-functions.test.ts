import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { FunctionLoadError } from "../errors.ts";
import { defineFunction } from "./define-function.ts";
import { loadFunctions } from "./load-functions.ts";

const builtin = defineFunction({ name: "builtin-one", on: ["switch-master"], reconcile: () => Promise.resolve() });
const builtins = { "builtin-one": builtin };
const here = fileURLToPath(new URL(".", import.meta.url));

describe("loadFunctions", () => {
  it("runs built-ins by name and a user's module by relative or absolute path", async () => {
    const fns = await loadFunctions(["builtin-one", "./testdata/hook.ts"], builtins, { cwd: here });
    expect(fns.map((f) => f.name)).toEqual(["builtin-one", "test-hook"]);
    expect((await loadFunctions([`${here}testdata/hook.ts`], builtins))[0]?.name).toBe("test-hook");
  });

  it("names what it cannot load, and why", async () => {
    await expect(loadFunctions(["no-such-function"], builtins)).rejects.toThrow(
      /^no-such-function: not a built-in function \(builtin-one\)/,
    );
    await expect(loadFunctions(["./testdata/missing.js"], builtins, { cwd: here })).rejects.toThrow(FunctionLoadError);
    // a module whose default export did not come from defineFunction, by path and by package name
    await expect(loadFunctions(["./testdata/not-a-hook.ts"], builtins, { cwd: here })).rejects.toThrow(
      /default export is not defineFunction/,
    );
    await expect(loadFunctions(["zod"], builtins)).rejects.toThrow(/^zod: its default export is not defineFunction/);
  });

  it("refuses two functions of the same name (they would share a consumer)", async () => {
    await expect(loadFunctions(["builtin-one", "builtin-one"], builtins)).rejects.toThrow(/builtin-one is loaded already/);
  });
});
