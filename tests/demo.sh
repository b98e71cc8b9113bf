#!/usr/bin/env bash
# The README's first command: check the seed scenario ("Istio as a Proxy
# for External Services") with meshc. Later stages extend this into the
# full build-and-serve walk-through.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
echo "\$ meshc check testdata/seed/"
"$BUILD/meshc" check testdata/seed/
