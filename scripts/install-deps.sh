#!/usr/bin/env bash
# Installs, from Debian 12's packages, whatever Keyward needs that this
# machine lacks. Safe to run again: it only asks apt for missing packages.
# Extra package names given as arguments are installed too (scripts/sanitize.sh
# and scripts/fuzz.sh ask for clang-16 that way).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git clang-format openssl
  libboost-dev libssl-dev libsodium-dev libsqlite3-dev sqlite3
  nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev
  libcurl4-openssl-dev libqrencode-dev libcjose-dev libjansson-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-aiosmtpd wrk glewlwyd
  libpq-dev postgresql nginx
  spin
  chromium
)
packages+=("$@")
# The web pages build with Node.js and npm (Debian 12's, or a newer Node.js
# already installed, which brings its own npm).
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing missing Debian packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "install-deps: run as root (or install sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
