"""Validate FHIR R4 resources with fhir.resources 6.1.0 (FHIR 4.0.1, pydantic models): every ndjson line or JSON file
given on the command line. Prints one line per invalid resource and exits 1 if any."""
import json, sys
import fhir.resources
from fhir.resources import construct_fhir_element
assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__
bad = 0; n = 0
def check(obj, where):
    global bad, n
    n += 1
    try:
        construct_fhir_element(obj["resourceType"], obj)
    except Exception as e:
        bad += 1
        print(f"{where}: {obj.get('resourceType')}/{obj.get('id')}: {e}".replace("\n", " | "))
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        if path.endswith(".ndjson"):
            for i, line in enumerate(f, 1):
                if line.strip():
                    check(json.loads(line), f"{path}:{i}")
        else:
            check(json.load(f), path)
print(f"{n} resources, {bad} invalid (fhir.resources {fhir.resources.__version__}, FHIR {fhir.resources.__fhir_version__})")
sys.exit(1 if bad else 0)
