#!/bin/sh
# The README's two commands: `./starling.sh run` and `./starling.sh test`.
# A fresh Debian 12 machine has no make or compiler, so install everything first (idempotent),
# then hand over to the Makefile, which holds the real recipes (`make run`, `make test`, ...).
set -eu
cd "$(dirname "$0")"
if [ "$(id -u)" -ne 0 ]; then
  echo "starling.sh: run as root (it installs Debian packages with apt-get)" >&2
  exit 1
fi
./scripts/install-deps.sh
exec make "${@:-test}"
