#!/usr/bin/env bash
# Installs dependencies, builds Starhold, and runs the hello example world
# (a persistent counter and a periodic task). Safe to repeat: each run
# continues the counter stored under build/hello-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target hello
cd build && ./examples/hello
