/** `ctx.recordEvent`: a Kubernetes Event (events.k8s.io/v1) about a Pod or a StatefulSet, reported by `failover-functions.io/<function>`. */
import { hostname } from "node:os";
import type { Logger } from "../logger.ts";
import type { EventTarget } from "./context.ts";
import { microTime } from "./kube.ts";
import type { Kube } from "./kube.ts";

/** The controller every function reports as (`<it>/<function>`), and the prefix of its field manager. */
export const REPORTING_CONTROLLER = "failover-functions.io";

/** A Kubernetes Event with a unique name; best effort: a failure is logged, never thrown. */
export async function recordEvent(kube: Kube, log: Logger, fn: string, target: EventTarget, type: "Normal" | "Warning", reason: string, note: string): Promise<void> {
  try {
    await kube.events.createNamespacedEvent({
      namespace: target.namespace,
      body: {
        // a unique name, as client-go's recorder makes them (generateName must itself be a valid name)
        metadata: { name: `${target.name}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`, namespace: target.namespace },
        eventTime: microTime(),
        reportingController: `${REPORTING_CONTROLLER}/${fn}`,
        reportingInstance: `${hostname()}/${fn}`.slice(0, 128),
        action: reason,
        reason,
        note: note.slice(0, 1000),
        type,
        regarding: { apiVersion: target.kind === "Pod" ? "v1" : "apps/v1", kind: target.kind, name: target.name, namespace: target.namespace, uid: target.uid },
      },
    });
  } catch (err) {
    log.warn({ err, fn, reason, target: target.name }, "could not record Kubernetes Event");
  }
}
