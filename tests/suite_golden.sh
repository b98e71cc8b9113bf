#!/usr/bin/env bash
# Golden files: every suite of tests/golden/ against testdata/golden/.
exec bash "$(dirname "$0")/golden.sh"
