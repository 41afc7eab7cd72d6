"""Offline render: every Kubernetes object a stack would create, without a cluster or the Pulumi CLI.

    python -m tools.render --stack dev [--out DIR] [--helm-values DIR]
                           [--charts DIR|URL] [--releases DIR|URL] [--expand] [--policy]

Loads Pulumi.yaml and Pulumi.<stack>.yaml (as the Pulumi CLI reads them), runs the real __main__.py under
mocks and writes every Kubernetes object as multi-document YAML (stdout, or one file per object under
DIR) in a stable order, secret values replaced by `[secret]`. Helm releases, release-manifest bundles,
commands and cloud resources are summarised on stderr with their key inputs, after the warnings the
program logs (the ones `pulumi up` shows). `--helm-values DIR` writes the values each Helm release gets
to DIR/<release>.yaml (secrets masked). Invalid config: one line per problem on stderr and exit status 1.

With `--charts` (or `--expand`) the output also holds every object the stack's Helm releases and charts and its
release-manifest installs (Tekton, Flux) create, expanded with the toolchain's helm (python -m tools.toolchain)
at the pinned chart versions with the exact values (tools/expand.py), each annotated
`render.gitops-platform/from`. `--charts` takes a directory of `<chart>-<version>.tgz` (../shared/mirror/charts)
or a chart repository URL; `--releases` a directory or base URL laid out like ../shared/mirror/releases (default:
the `releases` directory beside a `--charts` directory, if there is one, else the program's own URLs); `--expand`
alone fetches everything from where the program points the provider (needs the network). `--policy` runs the
policy pack over the stack's resources and every expanded object, and exits 1 on any violation.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from tools.charts import FROM, ChartError
from tools.expand import SourceError, expand
from tools.mockrun import ROOT, Registration, RunResult, close_event_loop, load_stack_file, run_program
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


MARKER = ".gitops-render"


class OutputDirError(Exception):
    pass


def _prepare(out: Path, stack: str) -> None:
    """An output directory the render may write: empty, or holding an earlier render (whose files it
    removes first, so two stacks' objects are never mixed). Anything else is refused."""
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"render: {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    marker = out / MARKER
    entries = [p for p in out.iterdir() if p.name != MARKER]
    if entries and not marker.exists():
        raise OutputDirError(f"render: {out} is not empty and was not written by the render; choose an empty "
                             "directory (its files would be mixed with this stack's)")
    if marker.exists():
        written = set(marker.read_text().splitlines()[1:])
        strangers = [p.name for p in entries if p.name not in written]
        if strangers:
            raise OutputDirError(f"render: {out} holds files the render did not write ({', '.join(sorted(strangers)[:3])}"
                                 "...); refusing to mix them with this stack's")
        for p in entries:
            p.unlink()
    marker.write_text(f"stack {stack}\n")


def _record(out: Path, name: str) -> None:
    with (out / MARKER).open("a") as marker:
        marker.write(name + "\n")


def write_out(docs: list[dict[str, Any]], out: Path, stack: str = "") -> None:
    _prepare(out, stack)
    for n, doc in enumerate(docs):
        meta = doc.get("metadata") or {}
        name = f"{n:04d}-{doc['kind'].lower()}-{meta.get('namespace') or 'cluster'}-{meta.get('name')}.yaml"
        (out / name).write_text(to_yaml([doc]))
        _record(out, name)


def write_helm_values(result: RunResult, out: Path, stack: str = "") -> list[str]:
    """Each Helm release's values exactly as the program passes them (secrets as `[secret]`), one file per
    release, so a reviewer sees what each chart gets (its RBAC, its images)."""
    _prepare(out, stack)
    written = []
    for reg in result.resources:
        if reg.type not in ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"):
            continue
        release = reg.inputs.get("name") or reg.name
        name = f"{release}.yaml"
        header = (f"# {reg.inputs.get('chart')} {reg.inputs.get('version')} from "
                  f"{(reg.inputs.get('repositoryOpts') or {}).get('repo', '')}, namespace {reg.inputs.get('namespace')}\n")
        (out / name).write_text(header + to_yaml([reg.inputs.get("values") or {}]))
        _record(out, name)
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="write one file per object under this directory")
    parser.add_argument("--helm-values", type=Path, metavar="DIR",
                        help="write each Helm release's values (secrets masked) to DIR/<release>.yaml")
    parser.add_argument("--charts", metavar="DIR|URL",
                        help="expand the Helm releases from this chart directory or repository URL")
    parser.add_argument("--releases", metavar="DIR|URL",
                        help="expand the release manifests from this mirror (default: <charts>/../releases)")
    parser.add_argument("--expand", action="store_true",
                        help="expand charts and release manifests (from their own sources unless given)")
    parser.add_argument("--policy", action="store_true",
                        help="run the policy pack over the stack and the expanded objects; exit 1 on violations")
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
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    docs = manifests(result)
    expanded: list[dict[str, Any]] = []
    if args.charts or args.releases or args.expand:
        try:
            expanded = expand_all(result, docs, args.charts, args.releases)
        except (ChartError, SourceError, ToolError) as err:
            print(f"render: {err}", file=sys.stderr)
            return 2
    try:
        if args.out:
            write_out(docs + expanded, args.out, args.stack)
        else:
            sys.stdout.write(to_yaml(docs + expanded))
        if args.helm_values:
            write_helm_values(result, args.helm_values, args.stack)
    except OutputDirError as err:
        print(err, file=sys.stderr)
        return 2
    for line in summary(result):
        print(line, file=sys.stderr)
    if expanded:
        print(f"{len(expanded)} objects expanded from {len(releases_of(expanded))} releases and release "
              "manifests", file=sys.stderr)
    if args.policy:
        from tools.policycheck import check  # pulumi-policy, only when asked
        violations = check(result, args.stack, expanded)
        for line in violations:
            print(f"policy: {line}", file=sys.stderr)
        if violations:
            return 1
        print(f"policy: no violations over {len(result.resources)} resources and {len(expanded)} expanded "
              "objects", file=sys.stderr)
    return 0


def releases_of(expanded: list[dict[str, Any]]) -> set[str]:
    return {d["metadata"]["annotations"][FROM].split(" ", 1)[0] for d in expanded}


class ToolError(RuntimeError):
    pass


def expand_all(result: RunResult, docs: list[dict[str, Any]], charts: str | None,
               releases: str | None) -> list[dict[str, Any]]:
    from tools import toolchain
    if releases is None and charts and Path(charts).is_dir() and (Path(charts).parent / "releases").is_dir():
        releases = str(Path(charts).parent / "releases")
    helm = toolchain.locate("helm")
    if helm is None:   # built once, cached by version (a few minutes cold)
        print("render: building the toolchain's helm (python -m tools.toolchain --only helm)", file=sys.stderr)
        try:
            helm, _ = toolchain.build(next(t for t in toolchain.TOOLS if t.name == "helm"))
        except toolchain.BuildError as err:
            raise ToolError(f"the expansion needs the toolchain's helm: {err}") from err
    return expand(result, docs, charts, releases, str(helm))


if __name__ == "__main__":
    try:
        code = main()
    finally:
        close_event_loop()
    sys.exit(code)
