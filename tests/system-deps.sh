#!/usr/bin/env bash
# The system packages the tests need, installed from Debian when absent (a no-op when present):
# chromium for the browser tests, nginx-light and its echo module for the real-server targets,
# prometheus for the observability tests, cmake and a C++ compiler to build the generative tests'
# llama-server (tests/generative/build_llama_server.sh, which `make test` runs next).
# Called by `make test`; runs apt-get as root, or through sudo.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
[ -e /usr/lib/nginx/modules/ngx_http_echo_module.so ] || missing+=(libnginx-mod-http-echo)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v g++ >/dev/null 2>&1 || missing+=(build-essential)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "tests/system-deps.sh: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "tests/system-deps.sh: ${missing[*]} missing; run as root or install sudo" >&2; exit 1; }
    sudo=(sudo)
fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
