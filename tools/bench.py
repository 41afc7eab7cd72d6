"""Render benchmark: how the platform's cost grows with the number of apps, against the SDK's own floor.

    python -m tools.bench [--apps 1 10 50 100 500] [--quiet] [--no-floor]

Each size runs in a fresh Python process (so peak memory is that render's own) and renders a synthetic
stack with every feature on: Tekton CI, Flux image automation, and a Flagger canary for every app.
Prints resources, CPU time (the process's, every thread), wall time and peak RSS per size, and the per-app
marginal cost. The floor: a program that registers the same number of bare resources (a ConfigMap each,
parented to one component, no dependencies) through the same mocked engine, in a fresh process too; the
ratio platform CPU / floor CPU is what the program itself costs beyond the Pulumi SDK's per-resource price.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def synthetic_config(apps: int) -> dict:
    return {
        "cluster": {"provider": "kind", "name": "gitops-bench"},
        "configRepo": {"url": "https://github.com/org/gitops-config.git", "username": "ci-bot"},
        "registry": {"server": "quay.io", "username": "ci-bot"},
        "imageUpdates": "flux",
        "apps": [{"name": f"app-{i:03d}", "image": f"quay.io/org/app-{i:03d}",
                  "sourceRepo": f"https://github.com/org/app-{i:03d}.git",
                  "imagePolicy": {"semver": ">=1.0.0 <2.0.0"},
                  "canary": {"enabled": True, "port": 8080}} for i in range(apps)],
    }


FLOOR_PROGRAM = """\
import pulumi
import pulumi_kubernetes as k8s

count = pulumi.Config().require_int("count")
parent = pulumi.ComponentResource("bench:index:Floor", "floor")
for i in range(count):
    k8s.core.v1.ConfigMap(f"cm-{i}", metadata=k8s.meta.v1.ObjectMetaArgs(name=f"cm-{i}", namespace="bench"),
                          data={"key": "value"}, opts=pulumi.ResourceOptions(parent=parent))
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_one(apps: int) -> dict:
    """Render `apps` apps in this process; called in a child process by `main`. The imports are counted
    (a `pulumi up` pays them too)."""
    cpu, start = _cpu(), time.perf_counter()
    from tools.mockrun import run_program
    from tools.render import manifests, to_yaml

    result = run_program("dev", synthetic_config(apps), {"gitToken": "t", "registryPassword": "p"})
    to_yaml(manifests(result))
    elapsed, used = time.perf_counter() - start, _cpu() - cpu
    if result.errors:
        raise SystemExit("\n".join(result.errors))
    return {"apps": apps, "resources": len(result.resources), "objects": len(result.k8s_objects()),
            "seconds": round(elapsed, 3), "cpu": round(used, 3),
            "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def measure_floor(resources: int) -> dict:
    """Register `resources` bare resources (the component counts as one) through the same mocks, with the
    same imports (pulumi_kubernetes), and the same recording monitor the render uses."""
    import tempfile
    from pathlib import Path

    cpu, start = _cpu(), time.perf_counter()
    from tools.mockrun import run_program

    with tempfile.TemporaryDirectory() as root:
        Path(root, "__main__.py").write_text(FLOOR_PROGRAM)
        result = run_program("dev", {"count": str(max(resources - 1, 0))}, {}, root=Path(root))
    if result.errors:
        raise SystemExit("\n".join(result.errors))
    return {"resources": len(result.resources), "cpu": round(_cpu() - cpu, 3),
            "seconds": round(time.perf_counter() - start, 3)}


def child(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "tools.bench", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, nargs="+", default=[1, 10, 50, 100, 500])
    parser.add_argument("--quiet", action="store_true", help="one line per size, no table header")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-SDK floor (half the time)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure_one(args.child)))
        return 0
    if args.floor_child is not None:
        print(json.dumps(measure_floor(args.floor_child)))
        return 0
    rows = []
    for apps in args.apps:
        row = child("--child", str(apps))
        if not args.no_floor:
            row["floor"] = child("--floor-child", str(row["resources"]))
        rows.append(row)
    if not args.quiet:
        print(f"{'apps':>5} {'resources':>9} {'k8s objects':>11} {'CPU s':>7} {'wall s':>7} {'peak MiB':>9}"
              + ("" if args.no_floor else f" {'floor CPU s':>11} {'ratio':>6}"))
    for row in rows:
        floor = "" if args.no_floor else f" {row['floor']['cpu']:>11.2f} {row['cpu'] / row['floor']['cpu']:>5.2f}x"
        print(f"{row['apps']:>5} {row['resources']:>9} {row['objects']:>11} {row['cpu']:>7.2f} {row['seconds']:>7.2f} "
              f"{row['peak_mib']:>9.1f}{floor}")
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        span = last["apps"] - first["apps"]
        print(f"marginal cost per app: {(last['resources'] - first['resources']) / span:.2f} resources, "
              f"{1000 * (last['cpu'] - first['cpu']) / span:.1f} ms CPU, "
              f"{1024 * (last['peak_mib'] - first['peak_mib']) / span:.0f} KiB")
        by_size = {r["apps"]: r for r in rows}
        if 500 in by_size and "floor" in by_size[500]:
            row = by_size[500]
            print(f"500 apps: {row['cpu']:.2f} s CPU, {row['cpu'] / row['floor']['cpu']:.2f}x the bare-SDK floor "
                  f"for {row['resources']} resources (target: at most 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
