#!/usr/bin/env python3
"""Checks an image's SBOMs and provenance with the reference libraries, and against its lock.

Run it with the Python of scripts/install-tools.sh's venv:

    .tools/venv/bin/python scripts/validate-sbom.py --lock Images/v2.7.lock.json \\
        [--platform linux/amd64] [--spdx out/v2.7.spdx.json] \\
        [--cyclonedx out/v2.7.cdx.json] [--provenance out/v2.7.provenance.json]

Each document given is checked by the library its format is defined by, not by hand:

- SPDX 2.3 JSON: parsed and validated by spdx-tools (what `pyspdxtools -i` does);
- CycloneDX 1.6 JSON: cyclonedx-python-lib's strict JSON schema validator;
- every purl in either SBOM: parsed by packageurl-python, and written back to the same string
  (a purl that does not round-trip is not in canonical form);
- the provenance: an in-toto Statement v1 (in-toto-attestation's protobuf bindings, unknown
  fields refused, then Statement.validate), whose predicate is SLSA provenance v1 (the
  bindings' Provenance message) with the fields that spec requires.

Then the contents against the lock, for one platform (default: the lock's top-level
`platform`; the others are under `otherPlatforms`): the
`pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12` purls are exactly the platform's
debs, the `pkg:pypi/NAME@VERSION` purls exactly its wheels (names compared as PEP 503
normalises them), each with the lock's SHA-256; the provenance's resolvedDependencies are the same
artifacts by SHA-256, plus any number of `git+…` sources. Other purls (the image's own, say)
are allowed and not counted.

Prints one `ok: …` line and exits 0 when everything holds; otherwise one line per problem on
stdout and exit 1. Exit 2: bad usage, or the libraries are missing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field

try:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement
    from packageurl import PackageURL
    from spdx_tools.spdx.model import ChecksumAlgorithm, ExternalPackageRefCategory
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.parse_anything import parse_file as parse_spdx_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
except ImportError as error:
    print(f"validate-sbom: {error}; run scripts/install-tools.sh and use .tools/venv/bin/python",
          file=sys.stderr)
    sys.exit(2)

SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
DEBIAN_DISTRO = "debian-12"
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def pep503(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_sha256(value: str) -> str:
    """The lock writes `sha256:HEX`; SBOMs carry the bare hex."""
    return value.removeprefix("sha256:").lower()


@dataclass
class Expected:
    """The artifacts of one platform of a lock, by the identity an SBOM gives them."""
    debs: dict[tuple[str, str, str], str]   # (name, version, architecture) → sha256 hex
    wheels: dict[tuple[str, str], str]       # (PEP 503 name, version) → sha256 hex

    def digests(self) -> Counter[str]:
        return Counter(list(self.debs.values()) + list(self.wheels.values()))


def load_lock(path: str, platform: str | None, problems: list[str]) -> Expected | None:
    try:
        with open(path, encoding="utf-8") as file:
            lock = json.load(file)
    except (OSError, ValueError) as error:
        problems.append(f"lock: {path}: {error}")
        return None
    platforms = [lock] + list(lock.get("otherPlatforms", []))
    if platform is None:
        chosen = lock
    else:
        matches = [entry for entry in platforms if entry.get("platform") == platform]
        if not matches:
            have = ", ".join(str(entry.get("platform")) for entry in platforms)
            problems.append(f"lock: {path} has no platform {platform} (it has {have})")
            return None
        chosen = matches[0]
    return Expected(
        debs={(d["name"], d["version"], d["architecture"]): lock_sha256(d["sha256"])
              for d in chosen.get("debs", [])},
        wheels={(pep503(w["name"]), w["version"]): lock_sha256(w["sha256"])
                for w in chosen.get("wheels", [])},
    )


@dataclass
class Item:
    """One package of an SBOM: where it is, its purl as written, its SHA-256 if any."""
    where: str
    purl: str
    sha256: str | None


@dataclass
class Tally:
    debs: int = 0
    wheels: int = 0
    problems: list[str] = field(default_factory=list)


def check_items(label: str, items: list[Item], expected: Expected) -> Tally:
    """Purls parse and round-trip; debs and wheels are exactly the lock's, with its hashes."""
    tally = Tally()
    seen_debs: dict[tuple[str, str, str], str] = {}
    seen_wheels: dict[tuple[str, str], str] = {}

    def problem(text: str) -> None:
        tally.problems.append(f"{label}: {text}")

    for item in items:
        try:
            purl = PackageURL.from_string(item.purl)
        except ValueError as error:
            problem(f"{item.where}: purl '{item.purl}' does not parse: {error}")
            continue
        canonical = purl.to_string()
        if canonical != item.purl:
            problem(f"{item.where}: purl '{item.purl}' is not canonical (packageurl writes '{canonical}')")
        qualifiers = purl.qualifiers or {}
        if purl.type == "deb":
            if purl.namespace != "debian":
                problem(f"{item.where}: {item.purl}: namespace '{purl.namespace}', not 'debian'")
            if qualifiers.get("distro") != DEBIAN_DISTRO:
                problem(f"{item.where}: {item.purl}: no distro={DEBIAN_DISTRO} qualifier")
            if "arch" not in qualifiers:
                problem(f"{item.where}: {item.purl}: no arch qualifier")
            key3 = (purl.name, purl.version or "", qualifiers.get("arch", ""))
            if key3 in seen_debs:
                problem(f"{item.where}: {item.purl} listed twice (also at {seen_debs[key3]})")
            seen_debs[key3] = item.where
            tally.debs += 1
            want = expected.debs.get(key3)
        elif purl.type == "pypi":
            key2 = (pep503(purl.name), purl.version or "")
            if key2 in seen_wheels:
                problem(f"{item.where}: {item.purl} listed twice (also at {seen_wheels[key2]})")
            seen_wheels[key2] = item.where
            tally.wheels += 1
            want = expected.wheels.get(key2)
        else:
            continue   # the image itself, a source repository: not the lock's business
        if want is None:
            problem(f"{item.where}: {item.purl} is not in the lock")
        elif item.sha256 is None:
            problem(f"{item.where}: {item.purl} has no SHA-256")
        elif item.sha256.lower() != want:
            problem(f"{item.where}: {item.purl} has SHA-256 {item.sha256}, the lock {want}")

    for name, version, arch in sorted(expected.debs.keys() - seen_debs.keys()):
        problem(f"the lock's deb {name} {version} ({arch}) is missing")
    for name, version in sorted(expected.wheels.keys() - seen_wheels.keys()):
        problem(f"the lock's wheel {name} {version} is missing")
    return tally


def check_spdx(path: str, expected: Expected) -> Tally:
    try:
        document = parse_spdx_file(path)
    except SPDXParsingError as error:
        return Tally(problems=[f"spdx: {path}: does not parse: {message}" for message in error.get_messages()])
    except (OSError, ValueError) as error:
        return Tally(problems=[f"spdx: {path}: {error}"])
    messages = validate_full_spdx_document(document)
    items = []
    for package in document.packages:
        sha256 = next((c.value for c in package.checksums if c.algorithm == ChecksumAlgorithm.SHA256), None)
        for ref in package.external_references:
            if ref.category == ExternalPackageRefCategory.PACKAGE_MANAGER and ref.reference_type == "purl":
                items.append(Item(where=package.spdx_id, purl=ref.locator, sha256=sha256))
    tally = check_items("spdx", items, expected)
    tally.problems[:0] = [f"spdx: {m.context.spdx_id}: {m.validation_message}" if m.context.spdx_id
                          else f"spdx: {m.validation_message}" for m in messages]
    return tally


def cyclonedx_components(components: list[dict], path: str, items: list[Item]) -> None:
    """Every component with a purl, nested ones too, named by its place in the document."""
    for index, component in enumerate(components):
        where = f"{path}/{index}"
        if "purl" in component:
            sha256 = next((h.get("content") for h in component.get("hashes", []) if h.get("alg") == "SHA-256"), None)
            items.append(Item(where=where, purl=component["purl"], sha256=sha256))
        cyclonedx_components(component.get("components", []) or [], f"{where}/components", items)


def check_cyclonedx(path: str, expected: Expected) -> Tally:
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        bom = json.loads(text)
    except (OSError, ValueError) as error:
        return Tally(problems=[f"cyclonedx: {path}: {error}"])
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    problems = [f"cyclonedx: {path}: {describe_schema_error(e)}" for e in (errors or [])]
    items: list[Item] = []
    if isinstance(bom, dict):
        cyclonedx_components(bom.get("components", []) or [], "/components", items)
    tally = check_items("cyclonedx", items, expected)
    tally.problems[:0] = problems
    return tally


def describe_schema_error(error: object) -> str:
    """A jsonschema error as one line: where in the document, and what. Some messages quote
    the whole offending value (uniqueItems: the array); only its ends are kept."""
    inner = getattr(error, "data", None)
    if inner is not None and hasattr(inner, "message"):
        location = "/".join(str(part) for part in getattr(inner, "absolute_path", []))
        message = inner.message
        if len(message) > 200:
            message = f"{message[:80]} … {message[-80:]}"
        return f"at /{location}: {message}"
    return str(error).splitlines()[0]


@dataclass
class ProvenanceTally:
    dependencies: int = 0
    git: int = 0
    problems: list[str] = field(default_factory=list)


def check_provenance(path: str, expected: Expected) -> ProvenanceTally:
    tally = ProvenanceTally()

    def problem(text: str) -> None:
        tally.problems.append(f"provenance: {text}")

    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        raw = json.loads(text)
    except (OSError, ValueError) as error:
        problem(f"{path}: {error}")
        return tally
    try:
        statement = json_format.Parse(text, statement_pb2.Statement())
        Statement.copy_from_pb(statement).validate()
    except (json_format.ParseError, ValueError) as error:
        problem(f"{path}: not an in-toto Statement v1: {error}")
        return tally
    for index, subject in enumerate(statement.subject):
        for algorithm, value in subject.digest.items():
            if algorithm == "sha256" and not SHA256_HEX.fullmatch(value):
                problem(f"subject {index}: sha256 '{value}' is not 64 lowercase hex digits")
    if statement.predicate_type != SLSA_PROVENANCE_V1:
        problem(f"predicateType is '{statement.predicate_type}', not {SLSA_PROVENANCE_V1}")
        return tally
    try:
        provenance = json_format.ParseDict(raw["predicate"], provenance_pb2.Provenance())
    except json_format.ParseError as error:
        problem(f"predicate is not SLSA provenance v1: {error}")
        return tally
    # The fields SLSA provenance v1 marks REQUIRED (https://slsa.dev/spec/v1.0/provenance).
    definition = provenance.build_definition
    if not definition.build_type:
        problem("predicate.buildDefinition.buildType is missing")
    if not definition.HasField("external_parameters"):
        problem("predicate.buildDefinition.externalParameters is missing")
    if not provenance.run_details.builder.id:
        problem("predicate.runDetails.builder.id is missing")

    digests: Counter[str] = Counter()
    for index, dependency in enumerate(definition.resolved_dependencies):
        where = f"resolvedDependencies[{index}]"
        try:
            ResourceDescriptor.copy_from_pb(dependency).validate()
        except ValueError as error:
            problem(f"{where}: {error}")
        if not dependency.name:
            problem(f"{where}: no name")
        if dependency.name.startswith("git+"):
            tally.git += 1
            continue
        tally.dependencies += 1
        sha256 = dependency.digest.get("sha256")
        if sha256 is None:
            problem(f"{where} ({dependency.name}): no digest.sha256")
        elif not SHA256_HEX.fullmatch(sha256):
            problem(f"{where} ({dependency.name}): sha256 '{sha256}' is not 64 lowercase hex digits")
        else:
            digests[sha256] += 1
    want = len(expected.debs) + len(expected.wheels)
    if tally.dependencies != want:
        problem(f"{tally.dependencies} resolvedDependencies besides git sources; the lock has "
                f"{len(expected.debs)} debs + {len(expected.wheels)} wheels = {want}")
    lock_digests = expected.digests()
    for sha256 in sorted((digests - lock_digests).keys()):
        problem(f"resolvedDependencies: sha256 {sha256} is not an artifact of the lock")
    for sha256 in sorted((lock_digests - digests).keys()):
        problem(f"resolvedDependencies: the lock's artifact sha256 {sha256} is missing")
    return tally


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="validate-sbom.py",
        description="Validate an image's SPDX, CycloneDX and in-toto/SLSA documents against its lock.")
    parser.add_argument("--lock", required=True, help="Images/NAME.lock.json")
    parser.add_argument("--platform", help="os/arch of the lock to compare with (default: the lock's top-level platform)")
    parser.add_argument("--spdx", help="SPDX 2.3 JSON document")
    parser.add_argument("--cyclonedx", help="CycloneDX 1.6 JSON document")
    parser.add_argument("--provenance", help="in-toto Statement v1 with a SLSA provenance v1 predicate")
    args = parser.parse_args(argv)
    if not (args.spdx or args.cyclonedx or args.provenance):
        parser.error("give at least one of --spdx, --cyclonedx, --provenance")

    problems: list[str] = []
    expected = load_lock(args.lock, args.platform, problems)
    if expected is None:
        print("\n".join(problems))
        return 1
    summary = []
    if args.spdx:
        tally = check_spdx(args.spdx, expected)
        problems += tally.problems
        summary.append(f"spdx {tally.debs} debs {tally.wheels} wheels")
    if args.cyclonedx:
        tally = check_cyclonedx(args.cyclonedx, expected)
        problems += tally.problems
        summary.append(f"cyclonedx {tally.debs} debs {tally.wheels} wheels")
    if args.provenance:
        provenance = check_provenance(args.provenance, expected)
        problems += provenance.problems
        summary.append(f"provenance {provenance.dependencies} dependencies {provenance.git} git")
    if problems:
        print("\n".join(problems))
        return 1
    print("ok: " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
