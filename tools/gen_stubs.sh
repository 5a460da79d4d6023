#!/usr/bin/env bash
# Regenerate python/fastmlp/_core.pyi, the type stub of the native module,
# with pybind11-stubgen from an installed fastmlp.
#
#   pip install . pybind11-stubgen && tools/gen_stubs.sh
#   tools/gen_stubs.sh --check     # exit 1 if the committed stub differs
#
# The stub describes the extension that is installed, so build and install
# the current tree first. FASTMLP_PYTHON picks the interpreter (default:
# python on PATH). The import runs from a temporary folder, so the source
# tree's python/fastmlp (which has no compiled _core) cannot shadow it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${FASTMLP_PYTHON:-python}"
committed="$repo/python/fastmlp/_core.pyi"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

cd "$out"
"$python" -c 'import fastmlp._core, sys; print("stubs of", fastmlp._core.__file__, file=sys.stderr)'
# --exit-code: fail on anything the generator could not express, instead of
# writing a stub with holes in it.
"$python" -m pybind11_stubgen --exit-code -o "$out/stubs" fastmlp._core >/dev/null
generated="$out/stubs/fastmlp/_core.pyi"

if [[ "${1:-}" == "--check" ]]; then
  if diff -u "$committed" "$generated" --label "committed _core.pyi" --label "regenerated _core.pyi"; then
    echo "gen_stubs: python/fastmlp/_core.pyi matches the installed extension"
  else
    echo "gen_stubs: python/fastmlp/_core.pyi is out of date: run tools/gen_stubs.sh and commit it" >&2
    exit 1
  fi
else
  cp "$generated" "$committed"
  echo "gen_stubs: wrote python/fastmlp/_core.pyi ($(wc -l < "$committed") lines)"
fi
