#!/usr/bin/env bash
# What `make pdf` needs besides Python packages: Debian's TeX Live (XeLaTeX, so that the
# book's Unicode prose, such as η, σ and −, sets without extra declarations), latexmk, the
# FreeFont family Sphinx's XeLaTeX template uses, and poppler-utils (pdftotext, pdftoppm)
# with which the tests read the PDF back.
set -euo pipefail

PACKAGES=(texlive-xetex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended
          latexmk fonts-freefont-otf poppler-utils)

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
else
    echo "The PDF needs TeX Live: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
