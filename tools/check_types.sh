#!/usr/bin/env bash
# mypy --strict over examples/, as a user's type checker sees fastmlp: through
# the installed package (py.typed, the _core.pyi stub and the public API's
# annotations).
#
#   pip install . mypy && tools/check_types.sh
#   tools/check_types.sh examples/perceptron_rule.py     # some files only
#
# Not part of .ci/run yet: it passes once the whole public API is annotated.
# FASTMLP_PYTHON picks the interpreter (default: python on PATH).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${FASTMLP_PYTHON:-python}"
cd "$(mktemp -d)"   # so python/fastmlp in the source tree is not what mypy reads
"$python" -c 'import fastmlp, sys; print("checking against", fastmlp.__file__, file=sys.stderr)'
if [[ $# -gt 0 ]]; then
  files=()
  for f in "$@"; do files+=("$(cd "$repo" && realpath "$f")"); done
else
  files=("$repo"/examples/*.py)
fi
exec "$python" -m mypy --config-file "$repo/pyproject.toml" --strict --no-incremental --python-executable "$(command -v "$python")" \
  --cache-dir=/dev/null "${files[@]}"
