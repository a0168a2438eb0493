# The gateway image used by compose.yaml. TypeScript runs through tsx, so there is no build step.
# Checked by test/unit/packaging.test.ts (there is no Docker engine in CI).
FROM node:20-bookworm-slim

# python3: the notes example is a Python MCP server (standard library only).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The package manifests and the lockfile first, so the `npm ci` layer stays cached until one of
# them changes. Every workspace (root package.json "workspaces") needs its package.json here.
COPY package.json package-lock.json ./
COPY sdk/package.json sdk/
COPY policy/package.json policy/
COPY gateway/package.json gateway/
COPY servers/chat/package.json servers/chat/
COPY servers/fixture/package.json servers/fixture/
COPY servers/github/package.json servers/github/
COPY servers/notes/package.json servers/notes/
COPY servers/weather/package.json servers/weather/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# The source (.dockerignore keeps out tests, local data, node_modules and .git).
COPY . .

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
ENV NODE_ENV=production \
    SWITCHBOARD_MODE=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    SWITCHBOARD_DATA_DIR=/data
USER node
EXPOSE 8080
# docker stop sends SIGTERM and waits 10 s; the gateway's own deadline is 10 s too, so compose
# gives it a longer stop_grace_period.
CMD ["switchboard", "start"]
