#!/usr/bin/env bash
# Istio's analyzer unit tests (tests/conformance.sh) as part of make test.
exec bash "$(dirname "$0")/conformance.sh"
