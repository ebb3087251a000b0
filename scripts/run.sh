#!/usr/bin/env bash
# Newcomer command 1: install what is missing, build, start keywardd on its
# embedded defaults (SQLite and mail outbox in ./keyward-data, 127.0.0.1:8080).
# Extra arguments go to keywardd (e.g. --listen 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cat <<MSG

Keyward is built. Starting keywardd (Ctrl-C stops it).
Open http://127.0.0.1:8080/ in a browser to sign in, or in another terminal try:
  export PATH="$(pwd)/build/bin:\$PATH"
  keyward account register --email you@example.com
  keyward account verify --email you@example.com     # the code is in ./keyward-data/outbox/
  keyward login --email you@example.com
  keyward item add --name github --username you --generate
  keyward item list
The walk-through is in README.md and docs/cli.md.

MSG
exec build/bin/keywardd "$@"
