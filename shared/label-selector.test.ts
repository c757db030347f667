/** Label selectors parsed and matched as the apiserver does; the shared watch's wider selector. */
import { describe, expect, it } from "vitest";
import { TerminalError } from "./errors.ts";
import { matchesLabels, parseLabelSelector, watchSelector } from "./label-selector.ts";

const pod = { "redis.failover.io/master": "cache", app: "redis", tier: "db" };

describe("parseLabelSelector + matchesLabels", () => {
  it.each([
    ["redis.failover.io/master=cache", true],
    ["redis.failover.io/master==cache", true],
    ["redis.failover.io/master=sessions", false],
    ["redis.failover.io/master!=sessions", true],
    ["redis.failover.io/master!=cache", false],
    ["missing!=x", true],
    ["app", true],
    ["!app", false],
    ["!missing", true],
    ["tier in (db, cache)", true],
    ["tier in (web)", false],
    ["tier notin (web,api)", true],
    ["tier notin (db)", false],
    ["missing notin (db)", true],
    ["app=redis, tier in (db,x), !missing", true],
    ["app=redis,tier=web", false],
  ])("%s -> %s", (selector, expected) => {
    expect(matchesLabels(parseLabelSelector(selector), pod)).toBe(expected);
  });

  it("an object without labels matches only absence requirements", () => {
    expect(matchesLabels(parseLabelSelector("!app"), undefined)).toBe(true);
    expect(matchesLabels(parseLabelSelector("app"), undefined)).toBe(false);
  });

  it.each(["", "app=,", "a b=c", "app=has space", "-bad=x", "app in (x y)"])("refuses %j with a TerminalError naming it", (selector) => {
    expect(() => parseLabelSelector(selector)).toThrow(TerminalError);
  });
});

describe("watchSelector", () => {
  it("keeps the keys a selector requires, so every master's default selector shares one watch", () => {
    expect(watchSelector(parseLabelSelector("redis.failover.io/master=cache"))).toBe("redis.failover.io/master");
    expect(watchSelector(parseLabelSelector("redis.failover.io/master=sessions"))).toBe("redis.failover.io/master");
    expect(watchSelector(parseLabelSelector("tier in (db), app=redis, app"))).toBe("app,tier");
  });

  it("drops what only narrows (!=, notin, !key); none left: the whole namespace", () => {
    expect(watchSelector(parseLabelSelector("app=redis,tier!=web,!canary"))).toBe("app");
    expect(watchSelector(parseLabelSelector("tier notin (web)"))).toBeUndefined();
  });

  it("every pod a selector matches is in its watch", () => {
    for (const s of ["app=redis,tier!=web", "tier in (db)", "redis.failover.io/master=cache,!missing"]) {
      const parsed = parseLabelSelector(s);
      const wide = watchSelector(parsed);
      expect(matchesLabels(parsed, pod)).toBe(true);
      expect(wide === undefined || matchesLabels(parseLabelSelector(wide), pod)).toBe(true);
    }
  });
});
