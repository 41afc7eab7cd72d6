"""Tekton catalog tasks the pipelines use, fetched at run time by the git resolver at a fixed commit.

The interface of each task (its parameters, results and workspaces) is recorded here from the task file
at `Versions.tekton_catalog_revision`, so the platform can check every reference a pipeline makes to a
catalog task without a cluster. When the revision is overridden per stack, the task files at the new
revision must keep these interfaces.
"""
from __future__ import annotations

from dataclasses import dataclass

from components.models.tekton import Param, TaskRef
from components.versions import Versions


@dataclass(frozen=True)
class CatalogTask:
    """A catalog task's file and interface: params (name -> has a default), results, workspaces
    (name -> optional)."""

    name: str
    path_in_repo: str
    params: dict[str, bool]
    results: frozenset[str]
    workspaces: dict[str, bool]

    def ref(self, versions: Versions) -> TaskRef:
        return TaskRef(resolver="git", params=[
            Param(name="url", value=versions.tekton_catalog_url),
            Param(name="revision", value=versions.tekton_catalog_revision),
            Param(name="pathInRepo", value=self.path_in_repo),
        ])


# task/git-clone/0.10/git-clone.yaml: runs as uid 65532 with the pinned git-init image
# ghcr.io/tektoncd-catalog/git-clone:v1.1.0 (its `gitInitImage` default).
GIT_CLONE = CatalogTask(
    name="git-clone",
    path_in_repo="task/git-clone/0.10/git-clone.yaml",
    params={"url": False, "revision": True, "refspec": True, "submodules": True, "depth": True,
            "sslVerify": True, "crtFileName": True, "subdirectory": True, "sparseCheckoutDirectories": True,
            "deleteExisting": True, "httpProxy": True, "httpsProxy": True, "noProxy": True, "verbose": True,
            "gitInitImage": True, "userHome": True},
    results=frozenset({"commit", "url", "committer-date"}),
    workspaces={"output": False, "ssh-directory": True, "basic-auth": True, "ssl-ca-directory": True},
)

# task/kaniko/0.7/kaniko.yaml: the executor image is pinned by digest in its `BUILDER_IMAGE` default; the
# digest of the pushed image is the IMAGE_DIGEST result; registry credentials come from the optional
# `dockerconfig` workspace (mounted at /kaniko/.docker).
KANIKO = CatalogTask(
    name="kaniko",
    path_in_repo="task/kaniko/0.7/kaniko.yaml",
    params={"IMAGE": False, "DOCKERFILE": True, "CONTEXT": True, "EXTRA_ARGS": True, "BUILDER_IMAGE": True,
            "WRITER_IMAGE": True},
    results=frozenset({"IMAGE_DIGEST", "IMAGE_URL"}),
    workspaces={"source": False, "dockerconfig": True},
)

CATALOG: dict[str, CatalogTask] = {task.path_in_repo: task for task in (GIT_CLONE, KANIKO)}
