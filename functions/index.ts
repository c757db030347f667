/** Every function the image ships, by name (for `failover run <name>...`). */
import type { FunctionDefinition } from "../shared/runtime/define-function.ts";
import fenceOldMaster from "./fence-old-master/index.ts";
import kubeEvents from "./kube-events/index.ts";
import labelMaster from "./label-master/index.ts";
import masterConfigmap from "./master-configmap/index.ts";
import masterEndpoints from "./master-endpoints/index.ts";
import podLossFailover from "./pod-loss-failover/index.ts";
import sentinelReset from "./sentinel-reset/index.ts";
import webhook from "./webhook/index.ts";

/** What manifests/base/functions deploys (`npm run manifests` writes their objects); the webhook and pod-loss-failover are the optional components/webhook and components/pod-loss-failover. */
export const baseFunctions: FunctionDefinition[] = [
  fenceOldMaster,
  kubeEvents,
  labelMaster,
  masterConfigmap,
  masterEndpoints,
  sentinelReset,
];

export const functions: Record<string, FunctionDefinition> = Object.fromEntries(
  [labelMaster, masterEndpoints, masterConfigmap, kubeEvents, fenceOldMaster, sentinelReset, webhook, podLossFailover].map((f) => [
    f.name,
    f,
  ]),
);

/** The names of the base functions, in the registry's order (the sandbox runs one process each). */
export const baseFunctionNames: string[] = Object.values(functions)
  .filter((f) => baseFunctions.includes(f))
  .map((f) => f.name);
