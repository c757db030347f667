import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EVENT_CONTRACT_FILE, eventContractSchema } from "./event-contract.ts";

const file = new URL(`../${EVENT_CONTRACT_FILE}`, import.meta.url);

describe("the event contract", () => {
  it("the committed JSON Schema is the one generated from the zod schemas (update: vitest run -u)", async () => {
    expect(existsSync(file), `${EVENT_CONTRACT_FILE} is committed`).toBe(true);
    await expect(`${JSON.stringify(eventContractSchema(), null, 2)}\n`).toMatchFileSnapshot(file.pathname);
  });

  it("names the attributes and data fields a consumer relies on", () => {
    const schema = eventContractSchema() as { properties: Record<string, { properties?: Record<string, unknown> }>; required: string[] };
    expect(schema.required).toEqual(expect.arrayContaining(["specversion", "id", "source", "type", "subject", "time", "data"]));
    expect(Object.keys(schema.properties.data?.properties ?? {})).toEqual(
      expect.arrayContaining(["event", "master", "epoch", "newMaster", "oldMaster", "announcedAt"]),
    );
  });
});
