"""Build the pinned tools (components/toolchain.py) from their Go modules into a cache keyed by version,
and print where they are.

    python -m tools.toolchain                 # build what is missing, print "<name> <version> <path>"
    python -m tools.toolchain --only kustomize
    python -m tools.toolchain --group cluster   # etcd and the control plane (tools/gomod wrapper modules)
    python -m tools.toolchain --json

The cache is ~/.cache/gitops-platform/toolchain (GITOPS_TOOLCHAIN_CACHE overrides it); Go's module and build
caches live beside it (…/go/mod, …/go/build). A tool the Go proxy does not serve at its pinned version is
reported with the proxy's answer, and the command exits 1: nothing is skipped silently.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from components.toolchain import TOOLS, Tool

GOMOD = Path(__file__).resolve().parent / "gomod"


def cache_root() -> Path:
    return Path(os.environ.get("GITOPS_TOOLCHAIN_CACHE", Path.home() / ".cache" / "gitops-platform" / "toolchain"))


def binary(tool: Tool, root: Path | None = None) -> Path:
    return (root or cache_root()) / f"{tool.name}-{tool.version}" / tool.name


def go_env(root: Path) -> dict[str, str]:
    go = root.parent / "go"
    return {**os.environ, "GOMODCACHE": os.environ.get("GOMODCACHE", str(go / "mod")),
            "GOCACHE": os.environ.get("GOCACHE", str(go / "build")), "GOFLAGS": "-buildvcs=false",
            "CGO_ENABLED": "0"}


class BuildError(RuntimeError):
    pass


def build(tool: Tool, root: Path | None = None) -> tuple[Path, float]:
    """The tool's binary, built if it is not cached: (path, seconds spent building, 0 when cached)."""
    root = root or cache_root()
    target = binary(tool, root)
    if target.exists():
        return target, 0.0
    go = shutil.which("go")
    if go is None:
        raise BuildError("go is not on PATH: the toolchain is built from Go modules (Go 1.26)")
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    major, minor = tool.version.lstrip("v").split(".")[:2]
    ldflags = ["-ldflags", "-s -w " + tool.ldflags.format(
        version=tool.version, bare=tool.version.lstrip("v"), major=major, minor=minor)]
    with tempfile.TemporaryDirectory(dir=target.parent.parent) as tmp:
        if tool.module:
            # A wrapper module: its go.sum pins every dependency; -mod=readonly refuses any drift.
            module = GOMOD / tool.module
            for dependency, source, destination in tool.embeds:
                found = subprocess.run([go, "list", "-mod=readonly", "-m", "-f", "{{.Dir}}", dependency], cwd=module,
                                       env=go_env(root), capture_output=True, text=True, timeout=600)
                if found.returncode != 0 or not found.stdout.strip():
                    subprocess.run([go, "mod", "download", dependency], cwd=module, env=go_env(root),
                                   capture_output=True, timeout=1800)
                    found = subprocess.run([go, "list", "-mod=readonly", "-m", "-f", "{{.Dir}}", dependency],
                                           cwd=module, env=go_env(root), capture_output=True, text=True, timeout=600)
                if found.returncode != 0 or not found.stdout.strip():
                    raise BuildError(f"go list -m {dependency} in tools/gomod/{tool.module}: {found.stderr[-2000:]}")
                shutil.copyfile(Path(found.stdout.strip()) / source, module / destination)
            what = f"go build {tool.package} in tools/gomod/{tool.module}"
            done = subprocess.run([go, "build", "-trimpath", "-mod=readonly", *ldflags, "-o",
                                   str(Path(tmp) / tool.name), tool.package], cwd=module, env=go_env(root),
                                  capture_output=True, text=True, timeout=5400)
        else:
            what = f"go install {tool.package}@{tool.version}"
            done = subprocess.run([go, "install", "-trimpath", *ldflags, f"{tool.package}@{tool.version}"],
                                  env={**go_env(root), "GOBIN": tmp}, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise BuildError(f"{what} failed:\n{done.stderr[-3000:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(Path(tmp) / tool.name, target)   # atomic: a half-built binary is never in the cache
    return target, time.monotonic() - started


def locate(name: str) -> Path | None:
    """The cached binary of `name`, or None when it was not built."""
    tool = next(t for t in TOOLS if t.name == name)
    path = binary(tool)
    return path if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated tool names")
    parser.add_argument("--group", default="tools", choices=("tools", "cluster", "all"),
                        help="tools (default: what the tests run), cluster (the simulated cluster), all")
    parser.add_argument("--json", action="store_true", help="print {name: {version, path, built_seconds}}")
    args = parser.parse_args(argv)
    chosen = [t for t in TOOLS if t.name in args.only.split(",")] if args.only else \
        [t for t in TOOLS if args.group in ("all", t.group)]
    report, failed = {}, []
    for tool in chosen:
        try:
            path, seconds = build(tool)
        except BuildError as err:
            if tool.required:
                failed.append(f"{tool.name} {tool.version}: {err}")
            else:
                report[tool.name] = {"version": tool.version, "path": None, "error": str(err)}
                print(f"NOT BUILT (optional; the harness uses its stand-in): {tool.name} {tool.version}: "
                      f"{str(err).strip().splitlines()[-1]}", file=sys.stderr)
            continue
        report[tool.name] = {"version": tool.version, "path": str(path), "built_seconds": round(seconds, 1)}
        if not args.json:
            how = f"built in {seconds:.0f} s" if seconds else "cached"
            print(f"{tool.name} {tool.version} {path} ({how})")
    if args.json:
        print(json.dumps(report, indent=2))
    for line in failed:
        print(f"ERROR: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
