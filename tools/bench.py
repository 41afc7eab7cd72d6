"""Render benchmark: how the platform's cost grows with the number of apps.

    python -m tools.bench [--apps 1 10 50 100 500] [--quiet]

Each size runs in a fresh Python process (so peak memory is that render's own) and renders a synthetic
stack with every feature on: Tekton CI, Flux image automation, and a Flagger canary for every app.
Prints resources, wall time and peak RSS per size, and the per-app marginal cost.
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


def measure_one(apps: int) -> dict:
    """Render `apps` apps in this process; called in a child process by `main`."""
    from tools.mockrun import run_program
    from tools.render import manifests, to_yaml

    start = time.perf_counter()
    result = run_program("dev", synthetic_config(apps), {"gitToken": "t", "registryPassword": "p"})
    to_yaml(manifests(result))
    elapsed = time.perf_counter() - start
    if result.errors:
        raise SystemExit("\n".join(result.errors))
    return {"apps": apps, "resources": len(result.resources), "objects": len(result.k8s_objects()),
            "seconds": round(elapsed, 3),
            "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, nargs="+", default=[1, 10, 50, 100, 500])
    parser.add_argument("--quiet", action="store_true", help="one line per size, no table header")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure_one(args.child)))
        return 0
    rows = []
    for apps in args.apps:
        done = subprocess.run([sys.executable, "-m", "tools.bench", "--child", str(apps)], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if not args.quiet:
        print(f"{'apps':>5} {'resources':>9} {'k8s objects':>11} {'wall s':>8} {'peak MiB':>9}")
    for row in rows:
        print(f"{row['apps']:>5} {row['resources']:>9} {row['objects']:>11} {row['seconds']:>8.2f} "
              f"{row['peak_mib']:>9.1f}")
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        span = last["apps"] - first["apps"]
        print(f"marginal cost per app: {(last['resources'] - first['resources']) / span:.2f} resources, "
              f"{1000 * (last['seconds'] - first['seconds']) / span:.1f} ms, "
              f"{1024 * (last['peak_mib'] - first['peak_mib']) / span:.0f} KiB")
        by_size = {r["apps"]: r for r in rows}
        if 50 in by_size and 500 in by_size:
            ratio = by_size[500]["seconds"] / by_size[50]["seconds"]
            print(f"500-app time / 50-app time: {ratio:.1f}x (linear target: at most 11x); "
                  f"500 apps in {by_size[500]['seconds']:.2f} s (target: under 15 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
