import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { defineFunction, isFunctionDefinition } from "./define-function.ts";
import type { SentinelEventName } from "./define-function.ts";
import { configOf, fakeContext, verifiedMaster } from "./testing/index.ts";

describe("defineFunction", () => {
  it("types `on` as the Sentinel event names: a typo does not compile", () => {
    const fn = defineFunction({ name: "typed", on: ["switch-master", "minus-sdown"], reconcile: () => Promise.resolve() });
    expectTypeOf(fn.on).toEqualTypeOf<readonly SentinelEventName[]>();
    // @ts-expect-error "swtich-master" is not a Sentinel event
    expect(() => defineFunction({ name: "typo", on: ["swtich-master"], reconcile: () => Promise.resolve() })).toThrow(
      /unknown Sentinel event "swtich-master"/,
    );
    // @ts-expect-error Sentinel's own spelling ("+sdown") is not the short name
    expect(() => defineFunction({ name: "signed", on: ["+sdown"], reconcile: () => Promise.resolve() })).toThrow(TypeError);
  });

  it("refuses a name that cannot be a consumer name, and an empty trigger list", () => {
    expect(() => defineFunction({ name: "My_Hook", on: ["switch-master"], reconcile: () => Promise.resolve() })).toThrow(
      /lowercase DNS label/,
    );
    expect(() => defineFunction({ name: "none", on: [], reconcile: () => Promise.resolve() })).toThrow(/at least one event/);
  });

  it("gives reconcile its own settings, typed by its schema and validated from the environment", async () => {
    const seen: number[] = [];
    const fn = defineFunction({
      name: "with-config",
      on: ["switch-master"],
      config: z.object({ HOOK_TIMEOUT_MS: z.coerce.number().int().min(1) }),
      reconcile(ctx) {
        expectTypeOf(ctx.config).toEqualTypeOf<{ HOOK_TIMEOUT_MS: number }>();
        expectTypeOf(ctx.config).not.toHaveProperty("WEBHOOK_SECRET"); // no other function's settings
        seen.push(ctx.config.HOOK_TIMEOUT_MS);
        return Promise.resolve();
      },
    });
    await fn.reconcile(
      fakeContext({ config: configOf(fn, { HOOK_TIMEOUT_MS: "250", SECRET_OF_ANOTHER: "x" }) }),
      verifiedMaster({ host: "198.18.100.1" }),
    );
    expect(seen).toEqual([250]);
    expect(configOf(fn, { HOOK_TIMEOUT_MS: "250", SECRET_OF_ANOTHER: "x" })).toEqual({ HOOK_TIMEOUT_MS: 250 });
    expect(() => configOf(fn, { HOOK_TIMEOUT_MS: "soon" })).toThrow(/^HOOK_TIMEOUT_MS: .*"soon"/);
  });

  it("marks what it returns, so a loader tells a function from a look-alike", () => {
    expect(isFunctionDefinition(defineFunction({ name: "real", on: ["switch-master"], reconcile: () => Promise.resolve() }))).toBe(true);
    expect(isFunctionDefinition({ name: "fake", on: ["switch-master"], reconcile: () => Promise.resolve() })).toBe(false);
  });
});
