#!/usr/bin/env bash
# The web tier's unprivileged user (VARRO_USER, default `varro`): `python -m app` started as root becomes it before
# serving. Run by `make setup` as root; a no-op for anyone else (who is unprivileged already).
#
# It must be able to run the project's Python: every folder above the interpreter's installation gets the
# search bit for others (o+x: enter, not list), e.g. /root for a pyenv Python under /root/.pyenv.
set -euo pipefail

USER_NAME="${VARRO_USER:-varro}"
[ "$(id -u)" = 0 ] || exit 0

if ! id "$USER_NAME" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$USER_NAME"
  echo "web user: created $USER_NAME"
fi

PY="${1:-.venv/bin/python}"
for target in "$("$PY" -c 'import sys; print(sys.base_prefix)')" "$(pwd)"; do
  dir="$target"
  while [ "$dir" != "/" ]; do
    chmod o+x "$dir"
    dir="$(dirname "$dir")"
  done
done
