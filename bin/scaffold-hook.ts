/**
 * The files of a new hook (`failover new hook <name>`): its module on the SDK, a unit test on the
 * test kit that passes as written, a Dockerfile `FROM` this project's production image plus the
 * compiled module, and a kustomize component (Deployment + ServiceAccount + least-privilege Role)
 * generated from the hook's declaration by the same renderer as the built-ins' manifests.
 */
import type { FunctionAccess, FunctionDefinition, KubeRule } from "../shared/runtime/define-function.ts";
import { renderFunctionFiles } from "../shared/runtime/manifests.ts";

/** The production image a hook's image starts from (overlays/production names it). */
export const PRODUCTION_IMAGE = "ghcr.io/failover-functions/failover-functions";

export interface ScaffoldVersions {
  /** This package's version: the production image's tag, and the hook's dependency. */
  runtime: string;
  zod: string;
  typescript: string;
  vitest: string;
  typesNode: string;
}

/** Where the compiled hook lives in its image. */
export const moduleInImage = (name: string) => `/app/hooks/${name}/index.js`;

/** What the scaffolded hook declares: it records the master in a ConfigMap named after itself. */
export function scaffoldAccess(name: string): FunctionAccess {
  return {
    kube: [
      { resource: "configmaps", verbs: ["create"], why: "server-side apply creates the record the first time" },
      { resource: "configmaps", names: [name], verbs: ["patch"], why: "and updates only that one" },
    ],
  };
}

const DESCRIPTION = "records the Sentinels' master in a ConfigMap (replace with your hook).";

/** A declared rule as a one-line TypeScript object literal. */
function ruleLiteral(r: KubeRule): string {
  const list = (items: readonly string[]) => `[${items.map((i) => JSON.stringify(i)).join(", ")}]`;
  const names = r.names ? `, names: ${list(r.names)}` : "";
  const why = r.why ? `, why: ${JSON.stringify(r.why)}` : "";
  return `{ resource: ${JSON.stringify(r.resource)}${names}, verbs: ${list(r.verbs)}${why} }`;
}

function indexTs(name: string): string {
  const access = `{\n    kube: [\n${(scaffoldAccess(name).kube ?? []).map((r) => `      ${ruleLiteral(r)},\n`).join("")}    ],\n  }`;
  return `import { z } from "zod";
import { defineFunction, EPOCH_ANNOTATION } from "failover-functions";

export default defineFunction({
  name: ${JSON.stringify(name)},
  description: ${JSON.stringify(DESCRIPTION)},
  // What it reads and writes: \`npm run manifests\` writes its Role from this (plus creating Events).
  access: ${access},
  on: ["switch-master"], // also woken by the resync, with ctx.event undefined
  config: z.object({ ${constName(name)}_LABEL: z.string().min(1).default("failover") }),
  async reconcile(ctx, master) {
    // master is the Sentinels' quorum answer, never the event's claim: converge to it, idempotently
    await ctx.kube.apply(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: ${JSON.stringify(name)}, namespace: master.mapping.namespace, annotations: { [EPOCH_ANNOTATION]: String(master.epoch) } },
        data: { master: master.name, host: master.host, port: String(master.port), epoch: String(master.epoch), label: ctx.config.${constName(name)}_LABEL },
      },
      ctx.fieldManager,
    );
    ctx.log.info({ host: master.host, epoch: master.epoch }, "master recorded");
    // throw RetryableError to be retried with backoff, TerminalError to give the event up;
    // return { requeueAfterMs } to look again later; pass ctx.signal to anything that waits
  },
});
`;
}

/** MY_HOOK from my-hook: the prefix of the hook's own settings. */
const constName = (name: string) => name.toUpperCase().replaceAll("-", "_");

function indexTestTs(name: string): string {
  return `import { expect, it } from "vitest";
import { configOf, fakeContext, verifiedMaster } from "failover-functions/testing";
import hook from "./index.ts";

it("records the Sentinels' master, with its epoch", async () => {
  const ctx = fakeContext({ config: configOf(hook, {}) });
  await hook.reconcile(ctx, verifiedMaster({ host: "198.51.100.7", epoch: 4 }));
  const [applied] = ctx.kube.applied;
  expect(applied?.object.metadata?.name).toBe(${JSON.stringify(name)});
  expect((applied?.object as { data?: Record<string, string> }).data).toMatchObject({ host: "198.51.100.7", epoch: "4", label: "failover" });
});
`;
}

function dockerfile(name: string, v: ScaffoldVersions): string {
  return `# ${name} on the failover-functions runtime: the production image plus the compiled hook.
# npm ci && npm run build && docker build -t ${name} .
# In the image, "failover-functions" resolves to the image's own runtime (/app/package.json) and zod
# to its node_modules; a hook with other dependencies copies them too (COPY node_modules/<dep> ...).
FROM ${PRODUCTION_IMAGE}:${v.runtime}
COPY dist/ /app/hooks/${name}/
# Runs as the base image's non-root user; the Deployment runs: failover run ${moduleInImage(name)}
`;
}

function packageJson(name: string, v: ScaffoldVersions): string {
  const manifests = `failover manifests --out deploy --image ${name} --module ${moduleInImage(name)} ./dist/index.js`;
  return `${JSON.stringify(
    {
      name,
      version: "0.1.0",
      private: true,
      type: "module",
      scripts: { build: "tsc -p tsconfig.json", test: "vitest run", manifests: `npm run build && ${manifests}` },
      dependencies: { "failover-functions": `^${v.runtime}`, zod: v.zod },
      devDependencies: { "@types/node": v.typesNode, typescript: v.typescript, vitest: v.vitest },
    },
    null,
    2,
  )}\n`;
}

const TSCONFIG = `${JSON.stringify(
  {
    compilerOptions: {
      target: "ES2024",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      types: ["node"],
      skipLibCheck: true,
      outDir: "dist",
      rewriteRelativeImportExtensions: true,
    },
    include: ["index.ts"],
  },
  null,
  2,
)}\n`;

function deployKustomization(name: string): string {
  return `# ${name}: a kustomize Component; add it to an overlay that includes failover-functions' base
# (its failover-settings ConfigMap and the redis-auth / nats-auth Secrets), and set the image:
#   components: [../path/to/${name}/deploy]
#   images: [{name: ${name}, newName: <registry>/${name}, newTag: <tag>}]
# deployments/ and rbac/ are generated from index.ts's declaration: \`npm run manifests\`.
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources:
  - rbac/${name}.yaml
  - deployments/${name}.yaml
`;
}

function readme(name: string): string {
  return `# ${name}

A failover hook on the failover-functions runtime: \`index.ts\` is woken by every \`switch-master\`
(and the periodic resync) with the master a quorum of Sentinels agrees on.

- \`npm test\`: its unit test on \`failover-functions/testing\`, no servers.
- \`npm run build\`, then \`npx failover run ./dist/index.js\` with the runtime's environment
  (\`SENTINELS\`, \`NATS_URL\`, \`NAMESPACE\`, ...).
- \`npm run manifests\` after changing \`access\` in \`index.ts\`: rewrites \`deploy/\` (its Role).
- \`docker build -t ${name} .\`, then add \`deploy/\` to your overlay's \`components\`.
`;
}

/** Every file of the hook, by path relative to its folder. */
export function hookFiles(name: string, versions: ScaffoldVersions): Record<string, string> {
  const declared: FunctionDefinition = {
    name,
    description: DESCRIPTION,
    access: scaffoldAccess(name),
    on: ["switch-master"],
    reconcile: () => Promise.resolve(),
  };
  const deploy = renderFunctionFiles([declared], { image: name, module: moduleInImage(name) });
  return {
    "package.json": packageJson(name, versions),
    "tsconfig.json": TSCONFIG,
    "index.ts": indexTs(name),
    "index.test.ts": indexTestTs(name),
    Dockerfile: dockerfile(name, versions),
    ".gitignore": "node_modules/\ndist/\n",
    ".dockerignore": "node_modules\n",
    "README.md": readme(name),
    "deploy/kustomization.yaml": deployKustomization(name),
    ...Object.fromEntries(Object.entries(deploy).map(([path, text]) => [`deploy/${path}`, text])),
  };
}
