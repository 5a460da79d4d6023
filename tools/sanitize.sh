#!/usr/bin/env bash
# Build fastmlp with AddressSanitizer + UndefinedBehaviorSanitizer into its own
# directory (the normal install is left alone) and run the test suite against it.
#
#   tools/sanitize.sh                      # whole suite
#   tools/sanitize.sh tests/test_io.py -x  # arguments go to pytest
#
# Slow (an instrumented build, then tests at a fraction of normal speed), so it
# is not part of .ci/run; see docs/development.md.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${FASTMLP_SANITIZE_DIR:-/tmp/fastmlp-sanitize}"
site="$work/site"
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

# The interpreter is not instrumented, so the ASan runtime must be loaded
# first, before any instrumented extension module. libstdc++ is preloaded
# too: python does not link it, and ASan resolves its __cxa_throw interceptor
# at start-up; without it the first C++ exception aborts with
# "CHECK failed: ... real___cxa_throw".
libasan="$(gcc -print-file-name=libasan.so)"
libstdcxx="$(gcc -print-file-name=libstdc++.so)"
for lib in "$libasan" "$libstdcxx"; do
  if [[ ! -e "$lib" ]]; then
    echo "sanitize.sh: gcc has no $(basename "$lib") (install gcc's sanitizer runtime)" >&2
    exit 2
  fi
done

echo "== building the instrumented extension into $site"
rm -rf "$site"
python -m pip install --no-build-isolation --no-deps -q --target "$site" \
  -Cbuild-dir="$work/build" \
  -Ccmake.build-type=RelWithDebInfo \
  -Ccmake.define.CMAKE_C_FLAGS="$flags" \
  -Ccmake.define.CMAKE_CXX_FLAGS="$flags" \
  -Ccmake.define.CMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -Ccmake.define.CMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  "$repo"

echo "== running the tests under ASan + UBSan"
cd "$repo"
# detect_leaks=0: CPython and numpy keep allocations alive until exit by design,
# which LeakSanitizer would report as leaks. Any other report aborts the run.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
export LD_PRELOAD="$libasan $libstdcxx"
# Tests that cannot run under ASan skip themselves when this is set: the
# resident-memory budgets (ASan's shadow memory and quarantine inflate them on
# purpose) and the out-of-memory test (gcc's ASan aborts in operator new
# instead of throwing std::bad_alloc).
export FASTMLP_SANITIZED=1
python -c 'import fastmlp, sys; print("using", fastmlp.__file__); sys.exit(not fastmlp.__file__.startswith(sys.argv[1]))' "$site"
exec python -m pytest -q -p no:cacheprovider "${@:-tests}"
