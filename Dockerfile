# The gateway image used by compose.yaml, in two stages: `build` compiles the TypeScript
# (`npm run build`: sdk, policy, gateway and the example servers to dist/*.js, and the console
# bundle) with the dev dependencies; the runtime stage has the production dependencies only and
# the built dist/ folders, and runs JavaScript: no TypeScript loader, no compiler.
# Checked by test/unit/packaging.test.ts (there is no Docker engine in CI).
FROM node:24-bookworm-slim AS build
WORKDIR /app
# The package manifests and the lockfile first, so the `npm ci` layer stays cached until one of
# them changes. Every workspace (root package.json "workspaces") needs its package.json here.
# --ignore-scripts: the root's `prepare` builds, and the source is not here yet.
COPY package.json package-lock.json ./
COPY sdk/package.json sdk/
COPY policy/package.json policy/
COPY gateway/package.json gateway/
COPY servers/chat/package.json servers/chat/
COPY servers/fixture/package.json servers/fixture/
COPY servers/github/package.json servers/github/
COPY servers/notes/package.json servers/notes/
COPY servers/weather/package.json servers/weather/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:24-bookworm-slim

# python3: the notes example is a Python MCP server (standard library only).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The same manifests, for the production dependencies alone (tsx, typescript and the test tools
# are dev dependencies). --ignore-scripts: `prepare` would build, and the build is copied below.
COPY package.json package-lock.json ./
COPY sdk/package.json sdk/
COPY policy/package.json policy/
COPY gateway/package.json gateway/
COPY servers/chat/package.json servers/chat/
COPY servers/fixture/package.json servers/fixture/
COPY servers/github/package.json servers/github/
COPY servers/notes/package.json servers/notes/
COPY servers/weather/package.json servers/weather/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# The source (.dockerignore keeps out tests, local data, node_modules, dist and .git): the
# migrations, policy, manifests, templates and console files the gateway reads, and the .ts
# files the source maps point stack traces at. Then each package's build from the build stage.
COPY . .
COPY --from=build /app/sdk/dist sdk/dist
COPY --from=build /app/policy/dist policy/dist
COPY --from=build /app/gateway/dist gateway/dist
COPY --from=build /app/servers/chat/dist servers/chat/dist
COPY --from=build /app/servers/fixture/dist servers/fixture/dist
COPY --from=build /app/servers/github/dist servers/github/dist
COPY --from=build /app/servers/weather/dist servers/weather/dist

# - `switchboard` on PATH, for operators (docker exec … switchboard keys list) and for the
#   policy's `scripted` profile. npm links workspace bins only when the file exists, and it did
#   not exist yet at `npm ci`.
# - The gateway runs as `node`, not root: it owns the data volume, and the notes example's data
#   folder (NOTES_DIR's default ./.data in its own folder) is a link into that volume.
RUN ln -s /app/gateway/bin/switchboard.js /usr/local/bin/switchboard \
 && mkdir -p /data/notes \
 && rm -rf servers/notes/.data \
 && ln -s /data/notes servers/notes/.data \
 && chown -R node:node /data

# Production mode refuses the development policy and a generated master key: give the image
# your own policy (SWITCHBOARD_POLICY) and SWITCHBOARD_MASTER_KEY. compose.yaml runs it in
# development mode on 127.0.0.1 by default.
# Node 24 keeps two 64 MB semi-spaces for V8's young generation, 128 MB resident under load;
# 16 MB ones (Node 20's) hold the gateway on PostgreSQL near 190 MB (docs/operator-guide.md,
# "Memory"). Only a start-up flag sets it. Integration servers do not inherit it: they get no
# environment of the gateway's.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=16 \
    SWITCHBOARD_MODE=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    SWITCHBOARD_DATA_DIR=/data
USER node
EXPOSE 8080
# docker stop sends SIGTERM and waits 10 s; the gateway's own deadline is 10 s too, so compose
# gives it a longer stop_grace_period.
CMD ["switchboard", "start"]
