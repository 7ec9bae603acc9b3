# Siberite: durable message queue server (Kestrel memcache protocol, LevelDB storage).
#
#   docker build -t siberite .
#   docker run -d --name siberite -p 22133:22133 -v siberite-data:/data siberite
#
# See docs/docker.md.

# ---- build stage: compile TypeScript, then drop dev dependencies ----------
FROM node:20-slim AS build

WORKDIR /app

# A compiler for the one addon of our own (src/native: malloc_trim, which gives freed heap
# pages back to the system); classic-level ships prebuilt binaries for linux x64/arm64 (glibc).
# node-gyp builds against the image's own Node.js headers, so nothing is downloaded.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local

# Install dependencies first so this layer is cached until the lock file changes; the
# install script builds src/native.
COPY package.json package-lock.json ./
COPY src/native ./src/native
RUN npm ci --no-audit --no-fund

COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime stage ----------------------------------------------------------
FROM node:20-slim

ENV NODE_ENV=production MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072

WORKDIR /app

# Application files stay owned by root: the server can read but not modify them.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/src/native/build/Release/malloc_trim.node ./src/native/build/Release/malloc_trim.node

# The data directory must exist and belong to the unprivileged user before it is
# declared a volume, so that a fresh named volume inherits that ownership.
RUN mkdir -p /data && chown node:node /data

USER node

VOLUME ["/data"]

EXPOSE 22133

# Speak the protocol: send "version" and expect a line starting "VERSION ".
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD ["node", "-e", "const s=require('node:net').connect(22133,'127.0.0.1');let b='';const t=setTimeout(()=>process.exit(1),2000);s.on('connect',()=>s.write('version\\r\\n'));s.on('data',d=>{b+=d;if(b.includes('\\n')){clearTimeout(t);process.exit(b.startsWith('VERSION ')?0:1)}});s.on('error',()=>process.exit(1))"]

# The server handles SIGTERM itself (finishes writes, returns open items, closes
# the database); exec form keeps it as PID 1 so it receives the signal.
STOPSIGNAL SIGTERM

ENTRYPOINT ["node", "--max-semi-space-size=2", "dist/src/cli.js"]
CMD ["-listen", "0.0.0.0:22133", "-data", "/data"]
