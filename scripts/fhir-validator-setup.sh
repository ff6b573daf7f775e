#!/usr/bin/env bash
# Install the FHIR R4 validating library the tests use (tests/e2e/fhir.rs): fhir.resources 6.1.0, the last release whose
# models are FHIR 4.0.1 (R4), with pydantic 1, in a virtual environment. Prints the line to eval:
#   eval "$(scripts/fhir-validator-setup.sh)"
set -euo pipefail
venv="${ANNUAIRE_FHIR_VENV:-${CARGO_TARGET_DIR:-$PWD/target}/fhir-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
"$venv/bin/pip" install -q "fhir.resources==6.1.0" "pydantic<2" >&2
"$venv/bin/python" -c "import fhir.resources as f; assert f.__fhir_version__ == '4.0.1'" >&2
echo "export ANNUAIRE_FHIR_PYTHON=$venv/bin/python"
