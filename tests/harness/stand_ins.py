"""Stand-ins for what cannot run on this machine, each doing what the real thing documents.

- `git_clone`: the tektoncd-catalog/git-clone v1.7.0 task (its git-init binary cannot be built here: the Go
  proxy's git-clone@v1.7.0 leaves out the nested module image/git-init, see components/toolchain.py):
  as uid 65532 (the task's runAsUser) with HOME holding Tekton's git credentials, empty the `output`
  workspace (deleteExisting), fetch `revision` at `depth` and check it out, write the `commit`, `url`
  and `committer-date` results (task/git-clone/git-clone.yaml, image/git-init/git/git.go). Real git does
  the work, against the real git server fixture.
- `kaniko`: the tektoncd-catalog/kaniko v1.0.0 task (the executor needs a container runtime's image
  layers): resolve DOCKERFILE and CONTEXT as the executor does (relative to the workspace the step runs
  in), fail like it when they do not exist, and push a one-layer image made of the context's files to
  the registry stand-in, writing IMAGE_DIGEST and IMAGE_URL.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.harness.apis import Registry
from tests.harness.tekton import TaskContext

GIT_CLONE_UID = 65532


def git_clone(fs_group: int | None, credentials: dict[str, str], env: dict[str, str] | None = None,
              ) -> Callable[[TaskContext], int]:
    def run(ctx: TaskContext) -> int:
        output = ctx.workspaces["output"]
        as_user = os.geteuid() == 0
        home = Path(ctx.results_dir).parent / f"git-clone-home-{ctx.results_dir.name}"
        home.mkdir()
        for name, content in credentials.items():
            (home / name).write_text(content)
        kwargs = {}
        if as_user:
            for path in (home, *home.iterdir()):
                os.chown(path, GIT_CLONE_UID, GIT_CLONE_UID)
            kwargs = {"user": GIT_CLONE_UID, "group": GIT_CLONE_UID,
                      "extra_groups": [fs_group] if fs_group is not None else []}
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "GIT_TERMINAL_PROMPT": "0",
                    "GIT_CONFIG_NOSYSTEM": "1", **(env or {})}

        def git(*args: str, cwd: Path = output) -> subprocess.CompletedProcess:
            done = subprocess.run(["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True, **kwargs)
            ctx.log(f"$ git {' '.join(args)}\n{done.stdout}{done.stderr}")
            return done

        try:
            if ctx.params.get("deleteExisting", "true") == "true":
                for child in output.iterdir():
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        except PermissionError as err:
            ctx.log(f"{err}")
            return 1
        # git-init marks the checkout safe (its directory may belong to another user: kubelet creates a
        # subPath as root), then inits, adds origin, fetches and checks out FETCH_HEAD (git/git.go).
        steps = [("config", "--global", "--add", "safe.directory", str(output)), ("init", "-q"),
                 ("remote", "add", "origin", ctx.params["url"])]
        depth = ctx.params.get("depth", "1")
        fetch = ["fetch", "-q", "origin", ctx.params.get("revision") or "HEAD"]
        if depth != "0":
            fetch[2:2] = [f"--depth={depth}"]
        steps += [tuple(fetch), ("checkout", "-q", "-f", "FETCH_HEAD")]
        for step in steps:
            done = git(*step)
            if done.returncode != 0:
                return done.returncode
        commit = git("rev-parse", "HEAD").stdout.strip()
        (ctx.results_dir / "commit").write_text(commit)
        (ctx.results_dir / "url").write_text(ctx.params["url"])
        (ctx.results_dir / "committer-date").write_text(git("log", "-1", "--format=%ct").stdout.strip())
        return 0
    return run


def kaniko(registry: Registry, built: list[dict] | None = None) -> Callable[[TaskContext], int]:
    def run(ctx: TaskContext) -> int:
        source = ctx.workspaces["source"]
        dockerfile = source / ctx.params.get("DOCKERFILE", "./Dockerfile")
        context = source / ctx.params.get("CONTEXT", "./")
        if not context.is_dir():
            ctx.log(f"error building image: context {context} does not exist")
            return 1
        if not dockerfile.is_file():
            ctx.log(f"error resolving dockerfile path: please provide a valid path to a Dockerfile within the "
                    f"build context with --dockerfile ({ctx.params.get('DOCKERFILE')})")
            return 1
        image = ctx.params["IMAGE"]
        name, _, tag = image.rpartition(":")
        repo = name.split("/", 1)[1] if "." in name.split("/", 1)[0] else name
        files = sorted(p for p in context.rglob("*") if p.is_file() and ".git" not in p.parts)
        content = b"".join(str(p.relative_to(context)).encode() + b"\0" + p.read_bytes() for p in files)
        content += b"dockerfile\0" + dockerfile.read_bytes()
        digest = registry.push_image(repo, tag, content)
        (ctx.results_dir / "IMAGE_DIGEST").write_text(digest)
        (ctx.results_dir / "IMAGE_URL").write_text(image)
        if built is not None:
            built.append({"image": image, "digest": digest, "context": str(context.relative_to(source)),
                          "dockerfile": str(dockerfile.relative_to(source))})
        ctx.log(f"pushed {image}@{digest}")
        return 0
    return run
