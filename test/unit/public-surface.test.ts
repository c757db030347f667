/**
 * The package's public surface: two entries (the SDK and /testing) and package.json, each built
 * from a source that exists, with types; nothing else importable by a hook in another repository.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as sdk from "../../shared/runtime/sdk.ts";
import * as testing from "../../shared/runtime/testing/index.ts";

const root = new URL("../../", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as {
  exports: Record<string, string | { types: string; default: string }>;
  files: string[];
  bin: Record<string, string>;
};
/** `./dist/a/b.js` or `.d.ts` -> the source `a/b.ts` it is compiled from. */
const source = (built: string) => new URL(built.replace(/^\.\/dist\//, "").replace(/\.d\.ts$|\.js$/, ".ts"), root);

describe("public surface", () => {
  it("exports the SDK and /testing only, each with types, compiled from sources that exist", () => {
    expect(Object.keys(pkg.exports)).toEqual([".", "./testing", "./package.json"]);
    for (const key of [".", "./testing"]) {
      const entry = pkg.exports[key] as { types: string; default: string };
      expect(entry.types, key).toBe(entry.default.replace(/\.js$/, ".d.ts"));
      expect(existsSync(source(entry.default)), entry.default).toBe(true);
      expect(
        pkg.files.some((f) => entry.default.startsWith(`./${f}/`)),
        `${entry.default} is packed`,
      ).toBe(true);
    }
    expect(existsSync(source(pkg.bin.failover!)), "the bin is compiled from bin/failover.ts").toBe(true);
  });

  it("the SDK has what a hook is written with; /testing what it is tested with", () => {
    expect(Object.keys(sdk)).toEqual(
      expect.arrayContaining([
        "defineFunction",
        "runFunctions",
        "loadFunctions",
        "RetryableError",
        "TerminalError",
        "SENTINEL_EVENT_NAMES",
        "sentinelEventDataSchema",
      ]),
    );
    expect(Object.keys(testing)).toEqual(
      expect.arrayContaining([
        "fakeContext",
        "fakePod",
        "verifiedMaster",
        "switchMasterEvent",
        "configOf",
        "FakeKube",
        "FakeSentinels",
        "FakeRedis",
      ]),
    );
    expect(Object.keys(sdk)).not.toContain("Runtime");
  });
});
