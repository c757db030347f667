import { describe, expect, it } from "vitest";
import { masterInfo, replicaInfo } from "./runtime/testing/fake-redis.ts";
import { parseInfo } from "./redis-info.ts";

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
