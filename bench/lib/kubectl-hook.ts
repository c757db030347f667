/**
 * The approach many charts use, written as they write it, for the benchmark only: Sentinel's
 * `client-reconfig-script` runs a shell script on every switch, and the script relabels pods with
 * kubectl; a selector Service then follows the label through kube-controller-manager.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const HOOK_LABEL = "bench-hook-role";

export function writeHookScript(dir: string, kubectl: string, kubeconfig: string, namespace: string): string {
  const path = join(dir, "client-reconfig.sh");
  writeFileSync(
    path,
    `#!/bin/bash
# client-reconfig-script: <master-name> <role> <state> <from-ip> <from-port> <to-ip> <to-port>
role="$2"; from_ip="$4"; to_ip="$6"
[ "$role" = "leader" ] || exit 0
k() { ${kubectl} --kubeconfig ${kubeconfig} -n ${namespace} "$@"; }
pod_of() { k get pods -l app.kubernetes.io/name=redis -o jsonpath="{.items[?(@.status.podIP==\\"$1\\")].metadata.name}"; }
new=$(pod_of "$to_ip")
old=$(pod_of "$from_ip")
[ -n "$old" ] && k label pod "$old" ${HOOK_LABEL}=replica --overwrite >/dev/null
[ -n "$new" ] && k label pod "$new" ${HOOK_LABEL}=master --overwrite >/dev/null
exit 0
`,
  );
  chmodSync(path, 0o755);
  return path;
}
