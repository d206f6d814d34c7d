# syntax=docker/dockerfile:1
# One image for every Telemoat component; the command names the component:
#   docker run telemoat setup|broker|api|jobs
# TypeScript runs through tsx (a runtime dependency); only the dashboard has a build step.
# No secrets are baked in: every credential arrives through the environment at run time.

FROM node:22-bookworm-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# The dashboard is built with the dev dependencies (Vite, Preact, uPlot); only its output ships.
FROM node:22-bookworm-slim AS dashboard
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY dashboard ./dashboard
RUN npm run build

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the `node` user: the running process cannot rewrite its code.
COPY --from=deps /app/node_modules ./node_modules
COPY . .
COPY --from=dashboard /app/dashboard/dist ./dashboard/dist
# The broker's write-ahead spool; a named volume mounted here inherits this ownership.
RUN mkdir -p /var/lib/telemoat/spool && chown node:node /var/lib/telemoat/spool
USER node
EXPOSE 1883 8083 8883 9464 8080
ENTRYPOINT ["node", "--import", "tsx", "bin/main.ts"]
