import { describe, expect, it } from "vitest";
import { z } from "zod";
import { hostPortList, millis, parseEnv, parseHostPort } from "./config.ts";
import { ConfigError } from "./errors.ts";

const schema = z.object({ SENTINELS: hostPortList(26379), RESYNC_MS: millis(100).default(30_000) });

describe("config", () => {
  it("parses host:port lists with default ports and IPv6", () => {
    expect(parseEnv(schema, { SENTINELS: "a, b:26380,[::1]:1" })).toEqual({
      SENTINELS: [
        { host: "a", port: 26379 },
        { host: "b", port: 26380 },
        { host: "::1", port: 1 },
      ],
      RESYNC_MS: 30_000,
    });
    expect(parseHostPort("x:70000", 1)).toBeUndefined();
  });

  it("fails naming the bad variable and its value", () => {
    const err = (() => {
      try {
        parseEnv(schema, { SENTINELS: "a:b:c" });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe("SENTINELS");
    expect((err as ConfigError).message).toMatch(/^SENTINELS: .*"a:b:c"/);
    expect(() => parseEnv(schema, {})).toThrow(/^SENTINELS: .*missing/);
    expect(() => parseEnv(schema, { SENTINELS: "a", RESYNC_MS: "5" })).toThrow(/^RESYNC_MS: /);
  });
});
