/**
 * The container images of the sandbox's Kubernetes node, built with no registry by
 * sandbox/images/build.sh as docker-archives (for `ctr -n k8s.io images import`), listed in
 * `<cache>/images/archives/index.json`.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { MissingBinaryError } from "../shared/errors.ts";
import { cacheDir, pinnedVersion } from "./paths.ts";

/** The project's image, one name per Dockerfile target. */
export const PROJECT_IMAGE = {
  dev: "localhost/failover-functions:dev",
  production: "localhost/failover-functions:production",
} as const;

/** The stand-ins for the base images, under the names the Dockerfile and the manifests use. */
export const STANDIN_IMAGES: readonly string[] = [
  "registry.k8s.io/pause:3.10.1",
  "docker.io/library/node:24-bookworm-slim",
  "gcr.io/distroless/nodejs24-debian12:nonroot",
  "docker.io/library/redis:7.0.15-bookworm",
  // manifests/components/valkey swaps the redis and sentinel containers to it.
  "docker.io/valkey/valkey:8.0.1-bookworm",
  // The nats-server the sandbox builds (sandbox/tools/nats/go.mod), as build.sh names it.
  `docker.io/library/nats:${pinnedVersion("nats", "github.com/nats-io/nats-server/v2").replace(/^v/, "")}-alpine`,
];

export interface ImageArchive {
  /** Full image name, e.g. `docker.io/library/redis:7.0.15-bookworm`. */
  name: string;
  /** Absolute path of its docker-archive. */
  archive: string;
  /** `sha256:<config digest>`: the image ID buildah gave it, and the one containerd will show. */
  id: string;
}

const indexSchema = z.array(z.object({ name: z.string(), archive: z.string(), id: z.string() }));

/** Every image's archive (stand-ins, then the project's targets); throws MissingBinaryError if one is not built. */
export function imageArchives(): ImageArchive[] {
  const indexPath = join(cacheDir(), "images", "archives", "index.json");
  const index = existsSync(indexPath) ? indexSchema.parse(JSON.parse(readFileSync(indexPath, "utf8"))) : [];
  return [...STANDIN_IMAGES, PROJECT_IMAGE.dev, PROJECT_IMAGE.production].map((name) => {
    const entry = index.find((e) => e.name === name);
    if (!entry || !entry.id || !existsSync(entry.archive)) throw new MissingBinaryError(name, "run 'npm run setup'");
    return entry;
  });
}
