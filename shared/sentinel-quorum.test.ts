import { describe, expect, it } from "vitest";
import { countVotes, majority } from "./sentinel-quorum.ts";

describe("countVotes", () => {
  it("counts answers per address, most votes first, skipping Sentinels that did not answer", () => {
    const counts = countVotes([
      { host: "198.18.1.10", port: 6379, epoch: 3 },
      undefined,
      { host: "198.18.1.11", port: 6379, epoch: 4 },
      { host: "198.18.1.11", port: 6379, epoch: 5 },
    ]);
    expect(counts.map(({ host, votes, epoch }) => ({ host, votes, epoch }))).toEqual([
      { host: "198.18.1.11", votes: 2, epoch: 5 },
      { host: "198.18.1.10", votes: 1, epoch: 3 },
    ]);
    expect(counts[0]!.answers).toHaveLength(2);
  });

  it("puts the higher epoch first among equal votes, whatever the order the answers came in", () => {
    const older = { host: "198.18.1.10", port: 6379, epoch: 2 };
    const newer = { host: "198.18.1.12", port: 6379, epoch: 7 };
    expect(countVotes([older, newer])[0]!.host).toBe("198.18.1.12");
    expect(countVotes([newer, older])[0]!.host).toBe("198.18.1.12");
    expect(countVotes([undefined, undefined])).toEqual([]);
    expect(majority(3)).toBe(2);
  });
});
