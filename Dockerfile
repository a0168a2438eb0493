# The gateway image used by compose.yaml. TypeScript runs through tsx, so there is no build step.
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm ci --omit=dev --no-audit --no-fund && mkdir -p /data && chown node:node /data
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 SWITCHBOARD_DATA_DIR=/data
USER node
EXPOSE 8080
# docker stop sends SIGTERM and waits 10 s; the gateway's own deadline is 10 s too, so compose
# gives it a longer stop_grace_period.
CMD ["node", "gateway/bin/switchboard.js", "start"]
