#!/usr/bin/env bash
# Installs the pinned tools that are not Go modules of this repository:
# buf from npm (it ships its binary in the package). The protoc plugins are
# pinned as `tool` directives in tools/protoc/go.mod and run with `go tool`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF_VERSION=1.75.0
if [ ! -x .tools/node_modules/.bin/buf ] || [ "$(.tools/node_modules/.bin/buf --version)" != "$BUF_VERSION" ]; then
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund --silent "@bufbuild/buf@${BUF_VERSION}" >&2
fi
echo "$PWD/.tools/node_modules/.bin"
