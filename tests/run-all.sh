#!/usr/bin/env bash
# The whole test suite (make test).  Every stage runs; the exit code is
# non-zero if any failed.
set -u
cd "$(dirname "$0")/.."
fail=0
stage() { echo "== $1"; shift; "$@" || fail=1; }
stage "format (clang-format)" make -s format-check
# `make` alone must build the library (README), not a generated file only.
default_goal() { [ "$(make -s -n -p 2>/dev/null | sed -n 's/^\.DEFAULT_GOAL := //p' | head -1)" = all ] ||
                 { echo "FAIL make: the default goal is not 'all'"; return 1; }; }
stage "make's default goal" default_goal
stage "unit tests"          make -s test-unit
stage "SQL tests"           make -s test-sql
stage "API surface"         make -s test-api
stage "dependency rules"    make -s test-arch
stage "function length"     make -s test-func-length
stage "Python cross-checks" make -s test-py
stage "CNN: ONNX conformance" make -s test-cnn-conformance
stage "CNN: torchvision vs PyTorch" make -s test-cnn-torch
stage "examples"            make -s test-examples
stage "embedding"           make -s test-embed
stage "interrupts"          make -s test-interrupt
stage "docs examples"       tests/docs-examples.sh dist/imgpca
stage "docs tables"         make -s test-docs-tables
stage "integration"         make -s test-integration
stage "report (Chromium)"   make -s test-report
stage "ASan+UBSan"          make -s test-asan
stage "CNN under ASan+UBSan: conformance, hostile models" make -s test-cnn-conformance-asan test-cnn-hostile
stage "OOM sweep"           make -s test-oom
stage "concurrency"         make -s test-concurrency
stage "ThreadSanitizer"     make -s test-tsan
stage "fuzzing (short)"     make -s test-fuzz
if [ $fail = 0 ]; then echo "== ALL TESTS PASSED"; else echo "== SOME TESTS FAILED"; fi
exit $fail
