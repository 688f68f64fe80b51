#!/usr/bin/env bash
# Installs the Debian packages the build needs that a fresh machine may lack; does nothing when
# they are all present. Safe to run repeatedly.
set -euo pipefail

packages=(
    libfftw3-dev  # FFTW: the tem plugin's Fourier transforms
    libffi-dev    # libffi: --symbol LIB:FUNC calls any C function
    libopenblas-dev  # OpenBLAS: the estimators' per-chunk matrix products
    zlib1g-dev    # zlib: PNG pictures (GSSPlots)
)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "bootstrap: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
