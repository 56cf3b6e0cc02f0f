#!/usr/bin/env bash
# What grading needs besides Python packages: Debian's bubblewrap (the bwrap command), the
# sandbox in which tools/grade.py runs each submission. Installed as Chromium is for the
# browser test: with apt-get when run as root, otherwise with an instruction.
set -euo pipefail

if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
    else
        echo "Grading needs bubblewrap: sudo apt-get install bubblewrap" >&2
        exit 1
    fi
fi
