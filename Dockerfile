# One image for every function: each Knative Service runs `node dist/functions/<name>/main.js`
# with FUNCTION=<name>; the migration Job runs `node dist/migrate.js`. No V8 flag on any command
# line: one would cost Node's built-in modules their code cache (runtime/idle-compaction.ts).

FROM node:22-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY runtime ./runtime
COPY db ./db
COPY functions ./functions
COPY scripts ./scripts
RUN npm run build

# PGlite is loaded from disk (its wasm sits beside its code), so it ships as a package; only the
# local-runner path without DATABASE_URL imports it.
FROM node:22-slim AS pglite
WORKDIR /deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
  && mkdir -p /out/node_modules/@electric-sql \
  && cp -r node_modules/@electric-sql/pglite /out/node_modules/@electric-sql/

FROM node:22-slim
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    MIGRATIONS_DIR=/app/migrations \
    DATA_DIR=/tmp/knfn \
    NODE_COMPILE_CACHE=/app/compile-cache
WORKDIR /app
COPY --from=pglite /out/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY migrations ./migrations
# A fixed numeric uid, so Kubernetes can verify runAsNonRoot; the files stay root-owned and
# read-only for it. Nothing writes outside /tmp (PGlite's DATA_DIR when no DATABASE_URL is set).
RUN groupadd --system --gid 10001 knfn && useradd --system --uid 10001 --gid knfn --no-create-home knfn \
  && mkdir compile-cache && chown 10001:10001 compile-cache
USER 10001:10001
# V8's compiled code for every chunk, read by each cold start instead of compiling again (about
# 10 ms of pingpong's first pong). Node keys the cache by uid and flags: hence as this user and
# with the Services' plain `node`. In a pod the root filesystem is read-only: it stays as built.
RUN node dist/warm-compile-cache.js
EXPOSE 8080
CMD ["node", "dist/main.js"]
