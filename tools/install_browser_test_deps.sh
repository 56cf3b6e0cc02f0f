#!/usr/bin/env bash
# What the browser test needs besides Python packages: Debian's Chromium, and local copies
# (from the npm registry) of the scripts the website loads from CDNs and of axe-core, the
# accessibility checker it runs in every page, so it runs offline.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "The browser test needs Chromium: sudo apt-get install chromium" >&2
        exit 1
    fi
fi

if [ ! -f tests/browser/node_modules/.package-lock.json ] \
   || [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
