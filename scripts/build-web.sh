#!/usr/bin/env bash
# Builds the web pages (web/, docs/web.md) into web/dist, which the C++
# build embeds into keywardd: `npm ci` from the committed package-lock.json
# (again only when the lock file changed), then `npm run build` (tsc + Vite).
set -euo pipefail
cd "$(dirname "$0")/../web"
stamp=node_modules/.keyward-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
npm run --silent build >/dev/null
