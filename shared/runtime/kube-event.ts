/**
 * Kubernetes Events (events.k8s.io/v1) as this project writes them: about a Pod or a StatefulSet,
 * reported by `failover-functions.io/<function>` from this host. `ctx.recordEvent` (one Event per
 * occurrence) and the kube-events function (one per failover) both build them here.
 */
import { hostname } from "node:os";
import type { EventsV1Event } from "@kubernetes/client-node";
import type { Logger } from "../logger.ts";
import type { EventTarget } from "./context.ts";
import { microTime } from "./kube.ts";
import type { Kube } from "./kube.ts";

/** The controller every function reports as (`<it>/<function>`), and the prefix of its field manager. */
export const REPORTING_CONTROLLER = "failover-functions.io";

export interface KubeEventSpec {
  /** The function reporting it. */
  fn: string;
  /** The Event's own name: unique per occurrence, or deterministic to be created once. */
  name: string;
  target: EventTarget;
  type: "Normal" | "Warning";
  action: string;
  reason: string;
  note: string;
}

/** An Event about `target`, in its namespace, stamped now. */
export function kubeEvent(s: KubeEventSpec): EventsV1Event {
  const { target } = s;
  return {
    metadata: { name: s.name, namespace: target.namespace },
    eventTime: microTime(),
    reportingController: `${REPORTING_CONTROLLER}/${s.fn}`,
    reportingInstance: `${hostname()}/${s.fn}`.slice(0, 128),
    action: s.action,
    reason: s.reason,
    note: s.note,
    type: s.type,
    regarding: {
      apiVersion: target.kind === "Pod" ? "v1" : "apps/v1",
      kind: target.kind,
      name: target.name,
      namespace: target.namespace,
      uid: target.uid,
    },
  };
}

/** A Kubernetes Event with a unique name; best effort: a failure is logged, never thrown. */
export async function recordEvent(
  kube: Kube,
  log: Logger,
  fn: string,
  target: EventTarget,
  type: "Normal" | "Warning",
  reason: string,
  note: string,
): Promise<void> {
  try {
    await kube.createEvent(
      kubeEvent({
        fn,
        // a unique name, as client-go's recorder makes them (generateName must itself be a valid name)
        name: `${target.name}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
        target,
        type,
        action: reason,
        reason,
        note: note.slice(0, 1000),
      }),
    );
  } catch (err) {
    log.warn({ err, fn, reason, target: target.name }, "could not record Kubernetes Event");
  }
}
