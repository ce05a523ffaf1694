#!/usr/bin/env bash
# Installs Debian packages for the test suite: `apt_install.sh <caller> <what is skipped without
# root> <package>...`. As root, or through sudo; without either it says what will be skipped and
# succeeds, so the rest of the suite still runs.
set -euo pipefail
caller=$1 skipped=$2
shift 2

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "$caller: $* missing and installing needs root; $skipped will be skipped" >&2
        exit 0
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "$@" >/dev/null
