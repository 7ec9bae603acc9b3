# Siberite: durable message queue server (Kestrel memcache protocol, LevelDB storage).
#
#   DOCKER_BUILDKIT=1 docker build -t siberite .
#   docker run -d --name siberite -p 22133:22133 -v siberite-data:/data siberite
#
# Behind a TLS-intercepting proxy or with a private registry (nothing of it stays in the image):
#   DOCKER_BUILDKIT=1 docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt \
#     --build-arg NPM_REGISTRY="$(npm config get registry)" -t siberite .
#
# Without Docker Hub, build the base image first: deploy/docker/build-base.sh. See docs/docker.md.

# Base: Node.js 24 LTS (supported until 2028-04-30) on Debian 12, an exact tag in both stages. The
# version is also in deploy/docker/node-version, package.json's engines and .ci/run (a test keeps
# them equal). Where Docker Hub can be reached, add its digest to both FROM lines
# (node:24.22.3-bookworm-slim@sha256:…; `docker buildx imagetools inspect` shows it); where it
# cannot, deploy/docker/build-base.sh makes this tag locally.

# ---- build stage: the addon, the dependencies, the TypeScript --------------------------------
FROM node:24.22.3-bookworm-slim AS build

# "required": the build fails unless src/native (malloc_trim: gives freed heap pages back to the
# system, ~30 MB less resident after a backlog drains) compiled. "optional": build without it;
# the server runs the same, only without trimming.
ARG HEAP_TRIM=required
ARG NPM_REGISTRY=

WORKDIR /app

# A compiler for our one addon; classic-level ships prebuilt LevelDB binaries for linux x64
# (glibc). Versions pinned to Debian 12's.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3=3.11.2-1+b1 make=4.3-4.1 g++=4:12.2.0-3 \
  && rm -rf /var/lib/apt/lists/*

# Dependencies first, so this layer is cached until the lock file changes. node-gyp builds
# src/native against the base image's headers (/usr/local/include/node): nothing is downloaded.
# The proxy's CA arrives as a build secret, mounted for this step only.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
COPY src/native ./src/native
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
  --mount=type=secret,id=npmrc,target=/root/.npmrc \
  if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
  && npm ci --no-audit --no-fund --foreground-scripts ${NPM_REGISTRY:+--registry=$NPM_REGISTRY} \
  && mkdir -p /out/native \
  && if [ -f src/native/build/Release/malloc_trim.node ]; then \
       cp src/native/build/Release/malloc_trim.node /out/native/; \
     elif [ "$HEAP_TRIM" = required ]; then \
       echo "error: the addon src/native did not compile (see the node-gyp output above)." >&2; \
       echo "       Fix the compiler, or build without it: --build-arg HEAP_TRIM=optional" >&2; \
       exit 1; \
     else echo "warning: building without src/native: freed heap memory is not trimmed" >&2; fi

COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json \
  && npm prune --omit=dev --no-audit --no-fund --ignore-scripts

# ---- runtime stage ----------------------------------------------------------------------------
FROM node:24.22.3-bookworm-slim

ENV NODE_ENV=production

WORKDIR /app

# Application files stay owned by root: the server can read but not change them.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /out/native/ ./src/native/build/Release/
# The `siberite` command: starts dist/src/cli.js with the runtime tuning (malloc settings, node
# flag), which it alone defines.
COPY bin/siberite ./bin/siberite

# /data belongs to the `node` user (uid 1000) and to group 0, group-writable: a fresh named
# volume copies this ownership, and a platform that runs the image under an arbitrary uid in
# group 0 (OpenShift, or Kubernetes with runAsGroup 0) can still write there.
RUN mkdir -p /data && chown node:0 /data && chmod 0775 /data

USER node

VOLUME ["/data"]

# 22133: memcache protocol. 9090: admin HTTP. Off loopback it serves only /healthz and /readyz unless
# the server has -admin-token-file (then the rest with that bearer token): docs/security.md.
EXPOSE 22133 9090

# GET /readyz on the admin port when the server has -admin, else `version` over the memcache
# port; it reads the server's flags from its command line (src/healthcheck.ts). The start period
# covers a slow start on a large data directory.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "dist/src/healthcheck.js"]

# The server handles SIGTERM itself (finishes writes, returns open items, closes the database,
# exits 0); the exec form, and bin/siberite's own `exec node`, keep it PID 1 so the signal
# reaches it.
STOPSIGNAL SIGTERM

ENTRYPOINT ["/app/bin/siberite"]
CMD ["-listen", "0.0.0.0:22133", "-data", "/data", "-admin", "0.0.0.0:9090"]
