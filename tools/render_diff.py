"""What a change does to every stack, object by object, with no cluster, backend or credentials.

    python -m tools.render_diff --base origin/main [--head WORKTREE|REF] [--markdown FILE]

Renders every stack (`Pulumi.*.yaml`) at the base ref (in a temporary git worktree, with that ref's own
code) and at the head (this working tree, or another ref), and reports per stack the objects added,
removed and changed: Kubernetes objects keyed by apiVersion/kind/namespace/name, and the resources that
are not Kubernetes objects (Helm releases, release manifests, commands, cloud resources) by type and name,
with a unified diff of each change. Secret values are `[secret]` in both renders, so none can appear.
Exit status 0 (a difference is not an error); 2 when a ref cannot be rendered at all.
"""
from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tools.mockrun import ROOT

MAX_LINES_PER_OBJECT = 80
MAX_CHARS = 60000   # a GitHub comment holds 65536 characters


@dataclass
class Render:
    objects: dict[str, str] = field(default_factory=dict)   # key -> YAML text
    errors: list[str] = field(default_factory=list)         # config errors (the stack does not render)


def key_of(doc: dict) -> str:
    meta = doc.get("metadata") or {}
    where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
    return f"{doc.get('apiVersion')} {doc.get('kind')} {where}{meta.get('name')}"


def render_stack(tree: Path, stack: str, python: str) -> Render:
    """The render of `stack` in the checkout at `tree`, run with that checkout's code."""
    done = subprocess.run([python, "-m", "tools.render", "--stack", stack], cwd=tree, capture_output=True, text=True)
    result = Render()
    if done.returncode != 0:
        result.errors = [line for line in done.stderr.splitlines() if line.strip()][-20:] or [f"exit {done.returncode}"]
        return result
    for doc in yaml.safe_load_all(done.stdout):
        if doc:
            result.objects[key_of(doc)] = yaml.safe_dump(doc, sort_keys=True, width=120)
    # The summary of what is not a Kubernetes object: "  <type> <name>: key=value, ..."
    others = False
    for line in done.stderr.splitlines():
        if line.startswith("not Kubernetes objects"):
            others = True
        elif others and line.startswith("  "):
            head, _, rest = line.strip().partition(": ")
            result.objects[head] = rest + "\n"
    return result


def stacks_in(tree: Path) -> set[str]:
    return {p.name[len("Pulumi."):-len(".yaml")] for p in tree.glob("Pulumi.*.yaml")}


@dataclass
class StackDiff:
    stack: str
    added: list[str]
    removed: list[str]
    changed: dict[str, list[str]]
    errors: dict[str, list[str]]   # "base"/"head" -> its config errors

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.errors)


def diff(stack: str, base: Render | None, head: Render | None) -> StackDiff:
    before, after = (base.objects if base else {}), (head.objects if head else {})
    changed = {}
    for key in sorted(set(before) & set(after)):
        if before[key] != after[key]:
            lines = list(difflib.unified_diff(before[key].splitlines(), after[key].splitlines(), "base", "head",
                                              lineterm="", n=2))
            changed[key] = lines[:MAX_LINES_PER_OBJECT] + (["..."] if len(lines) > MAX_LINES_PER_OBJECT else [])
    errors = {side: r.errors for side, r in (("base", base), ("head", head)) if r and r.errors}
    return StackDiff(stack, sorted(set(after) - set(before)), sorted(set(before) - set(after)), changed, errors)


def markdown(diffs: list[StackDiff], base_ref: str, head_ref: str) -> str:
    """The summary of every stack first (what was added and removed), then the changes' diffs while they
    fit in one GitHub comment."""
    out = [f"### Offline render: `{base_ref}` → `{head_ref}`", "",
           "Every stack rendered under mocks at both commits (no cluster, backend or credentials; secret values "
           "are `[secret]`)."]
    for d in diffs:
        out.append("")
        if d.empty:
            out.append(f"**{d.stack}**: no change")
            continue
        out.append(f"**{d.stack}**: {len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed")
        for side, lines in d.errors.items():
            out.append(f"- does not render at {side}:")
            out += [f"  - `{line}`" for line in lines]
        out += [f"- added `{k}`" for k in d.added]
        out += [f"- removed `{k}`" for k in d.removed]
        out += [f"- changed `{k}`" for k in d.changed]
    text = "\n".join(out) + "\n"
    details = []
    for d in diffs:
        for key, lines in d.changed.items():
            block = "\n".join([f"<details><summary>{d.stack}: <code>{key}</code></summary>", "", "```diff", *lines,
                               "```", "</details>", ""])
            if len(text) + sum(map(len, details)) + len(block) > MAX_CHARS:
                details.append("\n(more changes than one comment holds: the full diff is in the job's log)\n")
                return text + "\n" + "".join(details)
            details.append(block)
    return text + ("\n" + "\n".join(details) if details else "")


def worktree(ref: str, into: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", "--force", str(into), ref], cwd=ROOT, check=True,
                   capture_output=True)
    return into


def run(base_ref: str, head_ref: str | None, python: str) -> tuple[list[StackDiff], str]:
    with tempfile.TemporaryDirectory(prefix="render-diff-") as tmp:
        trees = {}
        try:
            trees["base"] = worktree(base_ref, Path(tmp) / "base")
            trees["head"] = worktree(head_ref, Path(tmp) / "head") if head_ref else ROOT
            stacks = sorted(stacks_in(trees["base"]) | stacks_in(trees["head"]))
            diffs = []
            for stack in stacks:
                renders = {side: render_stack(tree, stack, python) if stack in stacks_in(tree) else None
                           for side, tree in trees.items()}
                diffs.append(diff(stack, renders["base"], renders["head"]))
        finally:
            for side in ("base", "head"):
                if side in trees and trees[side] != ROOT:
                    subprocess.run(["git", "worktree", "remove", "--force", str(trees[side])], cwd=ROOT,
                                   capture_output=True)
    return diffs, markdown(diffs, base_ref, head_ref or "this working tree")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="git ref to compare with (e.g. origin/main)")
    parser.add_argument("--head", help="git ref of the change (default: this working tree)")
    parser.add_argument("--markdown", type=Path, help="write the report as Markdown (for a PR comment)")
    args = parser.parse_args(argv)
    try:
        _, text = run(args.base, args.head, sys.executable)
    except subprocess.CalledProcessError as err:
        print(f"render_diff: cannot check out {args.base}: {err.stderr.decode().strip()}", file=sys.stderr)
        return 2
    if args.markdown:
        args.markdown.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
