#!/usr/bin/env bash
# Build llama.cpp's llama-server, the main generative test target, into a cache directory that
# CI reuses between runs on the same machine: ~7 min of compiling on 2 cores the first time, a
# no-op after that.
#
# Its source is the llama.cpp copy vendored inside the llama-cpp-python sdist on PyPI, because
# PyPI is the only source-code registry these machines reach. Statically linked, so the cached
# directory holds one self-contained binary.
#
#   tests/generative/build_llama_server.sh                 build llama-server if it is not cached
#   tests/generative/build_llama_server.sh --print-path    print where llama-server and the llama-cpp-python
#                                                          venv's python are (or would be)
#   ISVCPERF_BUILD_LLAMA_CPP_PYTHON=1 tests/generative/build_llama_server.sh
#       also build llama-cpp-python[server] (~8.5 min more) into a venv in the same cache
#       directory: the optional second target, `python -m llama_cpp.server`
#
# Needs cmake and a C++ compiler (Debian: cmake build-essential) and python3 with pip.
# ISVCPERF_CACHE moves the cache (default ~/.cache/isvcperf); PYTHON picks the interpreter.
set -euo pipefail

# The one pin of the llama.cpp sources (tests/generative/llm_servers.py asks this script for the paths).
LLAMA_CPP_PYTHON_VERSION=0.3.36
CACHE=${ISVCPERF_CACHE:-$HOME/.cache/isvcperf}
SERVER_DIR=$CACHE/llama-server-$LLAMA_CPP_PYTHON_VERSION
PY_DIR=$CACHE/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION
PYTHON=${PYTHON:-python3}
JOBS=${JOBS:-2}

if [ "${1:-}" = "--print-path" ]; then
    echo "$SERVER_DIR/llama-server"
    echo "$PY_DIR/venv/bin/python"
    exit 0
fi

log() { echo "[build_llama_server +${SECONDS}s] $*" >&2; }

# A temporary directory next to the destination, removed on any exit, and a rename at the end:
# an interrupted build never leaves a half-written binary that a later run would take as done.
mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ -x "$SERVER_DIR/llama-server" ]; then
    log "cached: $SERVER_DIR/llama-server"
else
    log "downloading the llama-cpp-python $LLAMA_CPP_PYTHON_VERSION sdist (it vendors llama.cpp)"
    "$PYTHON" -m pip download -q --no-deps --no-binary :all: -d "$WORK" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
    tar xzf "$WORK/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz" -C "$WORK"
    log "configuring (build log: $WORK/build.log until it succeeds)"
    # LLAMA_USE_PREBUILT_UI=OFF: otherwise the configure step downloads the web UI from a model hub.
    # LLAMA_OPENSSL=OFF: the server only needs plain HTTP on loopback.
    cmake -S "$WORK/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION/vendor/llama.cpp" -B "$WORK/build" \
        -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
        > "$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; exit 1; }
    log "compiling llama-server with -j$JOBS (~7 min on 2 cores)"
    nice -n 10 cmake --build "$WORK/build" --target llama-server -j"$JOBS" >> "$WORK/build.log" 2>&1 \
        || { tail -40 "$WORK/build.log" >&2; exit 1; }
    mkdir -p "$WORK/out"
    cp "$WORK/build/bin/llama-server" "$WORK/out/"
    "$WORK/out/llama-server" --version > "$WORK/out/VERSION" 2>&1
    rm -rf "$SERVER_DIR"
    mv "$WORK/out" "$SERVER_DIR"
    log "built: $SERVER_DIR/llama-server ($(du -h "$SERVER_DIR/llama-server" | cut -f1))"
fi

if [ "${ISVCPERF_BUILD_LLAMA_CPP_PYTHON:-0}" = 1 ]; then
    # The venv is complete only once its stamp is written (a venv cannot be renamed into place).
    if [ -e "$PY_DIR/venv/.complete" ]; then
        log "cached: $PY_DIR/venv"
    else
        # Its own venv: the [server] extra pins FastAPI/Starlette versions that must not move the
        # project's (MLServer and KServe have their own pins). The wheel is kept, so a venv made
        # again does not compile again.
        log "building the llama-cpp-python[server] $LLAMA_CPP_PYTHON_VERSION wheel (~8.5 min on 2 cores)"
        rm -rf "$PY_DIR/venv"
        mkdir -p "$PY_DIR/wheels"
        "$PYTHON" -m venv "$PY_DIR/venv"
        CMAKE_BUILD_PARALLEL_LEVEL=$JOBS nice -n 10 "$PY_DIR/venv/bin/pip" wheel -q --no-deps -w "$PY_DIR/wheels" \
            --find-links "$PY_DIR/wheels" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
        "$PY_DIR/venv/bin/pip" install -q --find-links "$PY_DIR/wheels" "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION"
        touch "$PY_DIR/venv/.complete"
        log "built: $PY_DIR/venv"
    fi
fi
