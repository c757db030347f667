import { describe, expect, it } from "vitest";
import { masterInfo, replicaInfo } from "./runtime/testing/fake-redis.ts";
import { parseInfo, serverIdentity } from "./redis-info.ts";

describe("parseInfo", () => {
  it("reads the key:value lines of INFO replication, values kept whole", () => {
    expect(parseInfo(masterInfo())).toEqual({ role: "master", connected_slaves: "0" });
    expect(parseInfo(replicaInfo("198.18.100.11", 6379, "up"))).toEqual({
      role: "slave",
      master_host: "198.18.100.11",
      master_port: "6379",
      master_link_status: "up",
    });
    expect(parseInfo("# Replication\r\nslave0:ip=10.0.0.2,port=6379,state=online\r\n")).toEqual({
      slave0: "ip=10.0.0.2,port=6379,state=online",
    });
    expect(parseInfo("")).toEqual({});
  });
});

describe("serverIdentity", () => {
  it("names Valkey from its own fields, though it also reports a redis_version", () => {
    // INFO server of valkey-server 8.0.1 (Debian bookworm-backports) and of redis-server 7.0.15, trimmed.
    const valkey = parseInfo("# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n");
    const redis = parseInfo("# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n");
    expect(serverIdentity(valkey)).toEqual({ family: "valkey", version: "8.0.1" });
    expect(serverIdentity(redis)).toEqual({ family: "redis", version: "7.0.15" });
    expect(serverIdentity({})).toEqual({ family: "redis", version: "unknown" });
  });
});
