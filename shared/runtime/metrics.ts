/** The functions runtime's Prometheus metrics (one registry per process, labelled by function). */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function runtimeMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    handled: new Counter({
      name: "failover_events_handled_total",
      help: "Events handled, by function and result (ok, contradicted: acked but naming another master than the Sentinels, retry, terminal, invalid)",
      labelNames: ["fn", "result"],
      registers: r,
    }),
    failures: new Counter({
      name: "failover_reconcile_failures_total",
      help: "Reconciles that failed, by function and error class",
      labelNames: ["fn", "error"],
      registers: r,
    }),
    retries: new Counter({
      name: "failover_retries_total",
      help: "Events nak'ed for redelivery with backoff",
      labelNames: ["fn"],
      registers: r,
    }),
    deadLettered: new Counter({
      name: "failover_dead_lettered_total",
      help: "Events moved to the dead-letter stream (max deliveries or terminal)",
      labelNames: ["fn", "why"],
      registers: r,
    }),
    suspicious: new Counter({
      name: "failover_suspicious_events_total",
      help: "switch-master events that the Sentinels contradict: ahead (quorum not converged yet, retried), forged, stale (older epoch)",
      labelNames: ["fn", "kind"],
      registers: r,
    }),
    noQuorum: new Counter({
      name: "failover_no_quorum_total",
      help: "Reconciles skipped because no Sentinel quorum agreed",
      labelNames: ["fn"],
      registers: r,
    }),
    requeues: new Counter({
      name: "failover_requeues_total",
      help: "Reconciles that asked to run again later ({ requeueAfterMs }): waits, not failures",
      labelNames: ["fn"],
      registers: r,
    }),
    resyncs: new Counter({ name: "failover_resyncs_total", help: "Periodic resync passes", labelNames: ["fn"], registers: r }),
    reconcileDuration: new Histogram({
      name: "failover_reconcile_duration_seconds",
      help: "Reconcile duration, Sentinel check included",
      labelNames: ["fn", "trigger"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    phase: new Histogram({
      name: "failover_event_phase_seconds",
      help: "Where an event's time goes, by function and phase: delivery (the relay's announcement to this function receiving it, first delivery only), lane (waiting behind earlier work for the same master), verify (the Sentinels' quorum asked, and waited for while they converge), converge (the function's own reads and writes)",
      labelNames: ["fn", "phase"],
      buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5],
      registers: r,
    }),
    kubeRequest: new Histogram({
      name: "failover_kube_request_seconds",
      help: "Kubernetes API requests as this process times them (serialization, the wire and the apiserver), by verb, resource and code (ok, an HTTP status, network); beside the apiserver's own apiserver_request_duration_seconds it says where a slow write was slow",
      labelNames: ["verb", "resource", "code"],
      buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5],
      registers: r,
    }),
    kubeConnections: new Counter({
      name: "failover_kube_connections_opened_total",
      help: "Connections opened to the apiserver (each a TCP and TLS handshake); a warm pool opens them at start only",
      registers: r,
    }),
    propagation: new Histogram({
      name: "failover_propagation_seconds",
      help: "Sentinel announcement (as received by the relay) to this function's Kubernetes writes acknowledged",
      labelNames: ["fn"],
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
      registers: r,
    }),
  };
}
export type RuntimeMetrics = ReturnType<typeof runtimeMetrics>;
