"""Offline render: every Kubernetes object a stack would create, without a cluster or the Pulumi CLI.

    python -m tools.render --stack dev [--out DIR]

Loads Pulumi.yaml and Pulumi.<stack>.yaml, runs the real __main__.py under mocks and writes every
Kubernetes object as multi-document YAML (stdout, or one file per object under DIR) in a stable order,
secret values replaced by `[secret]`. Helm releases, release-manifest bundles, commands and cloud
resources are summarised on stderr with their key inputs. Invalid config: one line per problem on
stderr and exit status 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from tools.mockrun import ROOT, Registration, RunResult, load_stack_file, run_program
from tools.stackfile import StackFileError

# Kinds that must exist before others when applied in this order by hand (kubectl apply -f).
KIND_ORDER = ["Namespace", "ServiceAccount", "Secret", "ConfigMap", "Role", "ClusterRole", "RoleBinding",
              "ClusterRoleBinding", "Service"]
SUMMARY_KEYS = ("chart", "version", "repositoryOpts", "namespace", "name", "file", "files", "url",
                "create", "delete", "region", "instanceTypes", "scalingConfig", "kubeconfig",
                "context")


# libyaml's emitter when PyYAML has it (the wheels do): the pure-Python one is a third of a large render.
class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    pass


def _str_presenter(dumper, data: str):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def sort_key(manifest: dict[str, Any]) -> tuple:
    kind = manifest.get("kind", "")
    meta = manifest.get("metadata") or {}
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    return rank, manifest.get("apiVersion", ""), kind, meta.get("namespace") or "", meta.get("name") or ""


def manifests(result: RunResult) -> list[dict[str, Any]]:
    return sorted((r.manifest() for r in result.k8s_objects()), key=sort_key)


def to_yaml(docs: list[dict[str, Any]]) -> str:
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


def summary_line(reg: Registration) -> str:
    keys = {k: reg.inputs[k] for k in SUMMARY_KEYS if reg.inputs.get(k) not in (None, "", [], {})}
    if reg.type == "kubernetes:helm.sh/v3:Release":
        keys.pop("name", None)
    shown = ", ".join(f"{k}={v}" for k, v in keys.items())
    return f"  {reg.type} {reg.name}" + (f": {shown}" if shown else "")


def summary(result: RunResult) -> list[str]:
    others = [r for r in result.resources if not r.is_kubernetes_object
              and not r.type.startswith(("pulumi:providers:", "gitops-platform:"))]
    lines = [f"{len(result.k8s_objects())} Kubernetes objects, {len(result.resources)} resources in all"]
    if others:
        lines.append("not Kubernetes objects (applied by providers at deploy time):")
        lines += sorted(summary_line(r) for r in others)
    return lines


def write_out(docs: list[dict[str, Any]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for n, doc in enumerate(docs):
        meta = doc.get("metadata") or {}
        name = f"{n:04d}-{doc['kind'].lower()}-{meta.get('namespace') or 'cluster'}-{meta.get('name')}.yaml"
        (out / name).write_text(to_yaml([doc]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="write one file per object under this directory")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stack_file = args.root / f"Pulumi.{args.stack}.yaml"
    if not stack_file.exists():
        print(f"render: no stack file {stack_file.name} in {args.root}", file=sys.stderr)
        return 2
    try:
        config, secrets = load_stack_file(args.stack, args.root)
    except StackFileError as err:  # refused like the Pulumi CLI refuses it: a config problem, not a crash
        for line in err.lines:
            print(line, file=sys.stderr)
        return 1
    result = run_program(args.stack, config, secrets, args.root)
    if result.errors:
        for line in result.errors:
            print(line, file=sys.stderr)
        return 1
    docs = manifests(result)
    if args.out:
        write_out(docs, args.out)
    else:
        sys.stdout.write(to_yaml(docs))
    for line in summary(result):
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
