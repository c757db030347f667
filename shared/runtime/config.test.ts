import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { mappingFor, runtimeConfig } from "./config.ts";

const base = { SENTINELS: "s1,s2,s3" };

describe("runtimeConfig: MASTERS", () => {
  it("maps a master to its objects over the defaults", () => {
    const cfg = runtimeConfig({ ...base, MASTERS: JSON.stringify({ cache: { namespace: "shop", service: "cache-master" } }) });
    expect(mappingFor(cfg, "cache")).toMatchObject({
      namespace: "shop",
      service: "cache-master",
      configMap: "redis-master",
      podSelector: "redis.failover.io/master=cache",
    });
  });

  it("refuses a misspelt key, naming it and the master, instead of dropping it", () => {
    const bad = () => runtimeConfig({ ...base, MASTERS: JSON.stringify({ mymaster: { servce: "x" } }) });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/^MASTERS: mymaster: .*"servce"/);
  });

  it("refuses a value of the wrong shape, naming the field", () => {
    expect(() => runtimeConfig({ ...base, MASTERS: JSON.stringify({ mymaster: { namespace: "Not_A_Name" } }) })).toThrow(
      /^MASTERS: mymaster\.namespace: /,
    );
    expect(() => runtimeConfig({ ...base, MASTERS: "{oops" })).toThrow(/^MASTERS: expected JSON/);
  });

  it("refuses a pod selector the apiserver would not accept, at start, naming where it is", () => {
    expect(() => runtimeConfig({ ...base, MASTERS: JSON.stringify({ mymaster: { podSelector: "app in (a b)" } }) })).toThrow(
      /^MASTERS: mymaster\.podSelector: label selector "app in \(a b\)"/,
    );
    expect(() => runtimeConfig({ ...base, POD_SELECTOR: "app=has space,{master}" })).toThrow(/^POD_SELECTOR: label selector/);
    expect(runtimeConfig({ ...base, POD_SELECTOR: "app=redis,redis.failover.io/master={master}" }).POD_SELECTOR).toBe(
      "app=redis,redis.failover.io/master={master}",
    );
  });
});
