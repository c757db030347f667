/**
 * The apiserver's own time for the functions' writes over a stretch of a run (its
 * apiserver_request_duration_seconds, read from its /metrics before and after): set beside the
 * functions' converge phase, it says whether a slow write was slow in the apiserver or before it.
 * Server-side apply is the verb APPLY there, and only the functions apply these resources here.
 */
import type { PhaseFigure } from "./function-pods.ts";
import { histogramFigure } from "./function-pods.ts";
import { histogram, histogramDelta } from "./prom-scrape.ts";
import type { PromSeries } from "./prom-scrape.ts";

const METRIC = "apiserver_request_duration_seconds";
/** What the functions write when the master changes, and which function writes it. */
export const FUNCTION_WRITES = { pods: "label-master", endpointslices: "master-endpoints", configmaps: "master-configmap" } as const;
type Written = keyof typeof FUNCTION_WRITES;

/** Per resource, the server-side applies between two scrapes (none: left out). */
export function apiserverWrites(before: PromSeries[], after: PromSeries[]): Partial<Record<Written, PhaseFigure>> {
  const out: Partial<Record<Written, PhaseFigure>> = {};
  for (const resource of Object.keys(FUNCTION_WRITES) as Written[]) {
    const labels = { verb: "APPLY", resource };
    const h = histogramDelta(histogram(before, METRIC, labels), histogram(after, METRIC, labels));
    if (h.count > 0) out[resource] = histogramFigure(h);
  }
  return out;
}
