"""Strict validation of rendered manifests against a schema set (tools/schemas.py builds one for the pins).

    python -m tools.validate --schemas DIR FILE... | -
    python -m tools.validate --shared FILE...        ../shared/tools/validate-manifests, RBAC names as Kubernetes

As `kubectl apply --validate=strict` would on a cluster with those CRDs: custom resources against their CRD
schema after the schema's defaults are filled in (as the API server does), every field a structural schema
does not declare an error (the API server would drop it); built-in kinds with kubernetes-validate in strict
mode; metadata.name a DNS-1123 name. CEL rules and formats are not evaluated. Exit 0 when everything is
valid, 1 when anything is not. ../shared/tools/validate-manifests applies the same rules to ../shared/schemas.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
BUILT_IN = {"", "apps", "batch", "policy", "autoscaling"}
SHARED_VALIDATOR = Path(__file__).resolve().parent.parent.parent / "shared" / "tools" / "validate-manifests"
KUBERNETES = "1.33"   # the newest schema set kubernetes-validate ships here that the pinned clusters (1.35) accept


def index_of(schemas: Path) -> dict[tuple[str, str, str], Path]:
    return {(e["group"], e["version"], e["kind"]): schemas / e["file"]
            for e in json.loads((schemas / "INDEX.json").read_text())}


def defaulted(doc, schema):
    if not isinstance(schema, dict):
        return doc
    if isinstance(doc, dict):
        props = schema.get("properties") or {}
        out = {k: defaulted(v, props.get(k, schema.get("additionalProperties"))) for k, v in doc.items()}
        for key, sub in props.items():
            if "default" in sub and (key not in out or (out[key] is None and not sub.get("nullable"))):
                out[key] = defaulted(copy.deepcopy(sub["default"]), sub)
        return out
    if isinstance(doc, list):
        return [defaulted(item, schema.get("items")) for item in doc]
    return doc


def undeclared(doc, schema, path: str = "") -> list[str]:
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(doc, dict):
        props, extra = schema.get("properties"), schema.get("additionalProperties")
        for key, value in doc.items():
            if props is not None and key in props:
                found += undeclared(value, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                found += undeclared(value, extra, f"{path}.{key}")
            elif props is not None and extra is not True and not (path == "" and key in ("apiVersion", "kind",
                                                                                         "metadata", "status")):
                found.append(f"{path}.{key}".lstrip("."))
    elif isinstance(doc, list) and isinstance(schema.get("items"), dict):
        for n, item in enumerate(doc):
            found += undeclared(item, schema["items"], f"{path}[{n}]")
    return found


# Roles and bindings are named as path segments, not DNS names: k8s.io/kubernetes@v1.35.5
# pkg/apis/rbac/validation/validation.go ValidateRBACName = path.IsValidPathSegmentName (apimachinery
# pkg/api/validation/path/name.go: not "." or "..", no "/" or "%"). Envoy Gateway's chart names its certgen
# ClusterRole `<release>-gateway-helm-certgen:<namespace>` (envoyproxy/gateway@v1.9.0
# charts/gateway-helm/templates/certgen-rbac.yaml), which the API server accepts.
RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})


def rbac_name_ok(name: str) -> bool:
    return name not in (".", "..") and "/" not in name and "%" not in name and 0 < len(name) <= 253


def name_ok(kind: str, name: object) -> bool:
    if not isinstance(name, str):
        return False
    if kind in RBAC_KINDS:
        return rbac_name_ok(name)
    return bool(NAME.fullmatch(name)) and len(name) <= 253


SHARED_NAME = re.compile(r"^(?P<file>.+?): (?P<kind>[A-Za-z]+)/(?P<namespace>[^/]*)/(?P<name>.*): "
                         r"metadata\.name '(?P<value>.*)' is not a DNS-1123 name$")


def shared(files: list[str], validator: Path) -> int:
    """The shared strict validator, with its one rule that is stricter than the API server (every name a DNS-1123
    name) relaxed to the API server's rule for RBAC objects; every other finding fails as it does there."""
    done = subprocess.run([sys.executable, str(validator), *files], capture_output=True, text=True)
    accepted, failed = [], []
    for line in done.stdout.splitlines():
        if re.fullmatch(r"\d+ valid, \d+ invalid", line):
            continue
        m = SHARED_NAME.match(line)
        if m and m["kind"] in RBAC_KINDS and m["value"] == m["name"] and rbac_name_ok(m["value"]):
            accepted.append(line)
        else:
            failed.append(line)
    for line in failed:
        print(line)
    for line in accepted:
        print(f"accepted (a valid RBAC name, ValidateRBACName): {line}")
    summary = done.stdout.strip().splitlines()[-1:] or [""]
    print(f"{summary[0]}; {len(accepted)} of those findings are RBAC names the API server accepts")
    if done.returncode not in (0, 1) or done.stderr.strip():
        print(done.stderr, file=sys.stderr)
        return done.returncode or 1
    return 1 if failed else 0


def problems(doc: dict, index: dict) -> list[str]:
    if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
        return ["not a Kubernetes object"]
    group, _, version = doc["apiVersion"].rpartition("/")
    name = (doc.get("metadata") or {}).get("name", "")
    found = [] if name_ok(doc["kind"], name) else [f"metadata.name {name!r} is not a DNS-1123 name"]
    schema_file = index.get((group, version, doc["kind"]))
    if schema_file is not None:
        schema = json.loads(schema_file.read_text())
        for err in sorted(jsonschema.Draft7Validator(schema).iter_errors(defaulted(doc, schema)), key=lambda e: list(e.path)):
            found.append(f"{'.'.join(map(str, err.path)) or '(root)'}: {err.message}")
        found += [f"{f}: unknown field (the API server would drop it)" for f in undeclared(doc, schema)]
    elif group in BUILT_IN or group.endswith(".k8s.io"):
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as err:
            found.append(f"{'.'.join(map(str, err.path)) or '(root)'}: {err.message}")
        except kubernetes_validate.SchemaNotFoundError:
            found.append(f"no schema for {doc['apiVersion']} {doc['kind']}")
    else:
        found.append(f"no schema for {doc['apiVersion']} {doc['kind']} in the schema set")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schemas", type=Path)
    parser.add_argument("--shared", action="store_true",
                        help="run ../shared/tools/validate-manifests (RBAC names judged as the API server does)")
    parser.add_argument("--validator", type=Path, default=SHARED_VALIDATOR, help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    if args.shared:
        return shared(args.files, args.validator)
    if not args.schemas:
        parser.error("--schemas DIR or --shared is needed")
    index = index_of(args.schemas)
    total = bad = 0
    for file in args.files:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
        for doc in yaml.safe_load_all(text):
            if doc is None:
                continue
            total += 1
            found = problems(doc, index)
            if found:
                bad += 1
                meta = doc.get("metadata") or {}
                for line in found:
                    print(f"{file}: {doc.get('kind')}/{meta.get('namespace', '')}/{meta.get('name')}: {line}")
    print(f"{total - bad} valid, {bad} invalid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
