/**
 * The check both ways of impersonating share (shared/kube-access.ts' DirectAccess.as and
 * shared/kube-config.ts' impersonating): a host's own call, then label-master, master-configmap and
 * label-master again as themselves, all with the host's token and over one keep-alive pool.
 */
import type { IncomingHttpHeaders } from "node:http";
import { expect } from "vitest";
import { serviceAccountUser } from "../../shared/kube-access.ts";

/** Who makes the four calls, in order: the host itself (undefined), then functions as their ServiceAccounts. */
export const IMPERSONATED_CALLS = [
  undefined,
  serviceAccountUser("redis", "label-master"),
  serviceAccountUser("redis", "master-configmap"),
  serviceAccountUser("redis", "label-master"),
] as const;

/** What the stand-in apiserver saw for the four calls, and how many connections it accepted. */
export function expectImpersonatedOverOnePool(seen: IncomingHttpHeaders[], connections: number, token: string): void {
  expect(seen.map((h) => h["impersonate-user"])).toEqual([...IMPERSONATED_CALLS]);
  expect(seen.every((h) => h.authorization === `Bearer ${token}`)).toBe(true);
  // one keep-alive pool for the host and its copies (undici opens a second connection once, then reuses them)
  expect(connections).toBeLessThanOrEqual(2);
}
