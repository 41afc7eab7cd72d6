"""The maintained upstream tasks the pipelines use, fetched at run time by the git resolver at their
release commits.

tektoncd/catalog's `git-clone` (0.10) and `kaniko` (0.7) are deprecated (tektoncd/catalog commits
63e107e7, 2026-06-08, and a90a6e9f, 2025-07-01); their maintained successors live in their own
repositories: tektoncd-catalog/git-clone (v1.7.0) and tektoncd-catalog/kaniko (v1.0.0, built on the
maintained kaniko fork osscontainertools/kaniko). The interface of each task (params, results,
workspaces) is recorded here from its file at the pinned commit, so every reference a pipeline makes to
it is checked without a cluster (`references.py`). An overridden revision must keep these interfaces.
"""
from __future__ import annotations

from dataclasses import dataclass

from components.models.tekton import Param, TaskRef
from components.versions import Versions


@dataclass(frozen=True)
class RemoteTask:
    """A task in another repository: where it is (the versions fields holding its URL and commit, and
    its path in that repository) and its interface: params (name -> has a default), results,
    workspaces (name -> optional)."""

    name: str
    url_field: str
    revision_field: str
    path_in_repo: str
    params: dict[str, bool]
    results: frozenset[str]
    workspaces: dict[str, bool]

    def ref(self, versions: Versions) -> TaskRef:
        return TaskRef(resolver="git", params=[
            Param(name="url", value=getattr(versions, self.url_field)),
            Param(name="revision", value=getattr(versions, self.revision_field)),
            Param(name="pathInRepo", value=self.path_in_repo),
        ])


# tektoncd-catalog/git-clone@v1.7.0:task/git-clone/git-clone.yaml. One step, `clone`, runs the
# git-init binary of `gitInitImage` as uid 65532 (runAsNonRoot) with HOME=/tekton/home, where Tekton
# copies pipeline-bot's annotated credentials; it writes the checkout into `output` as that user, so
# the volume must be writable by it (the task's README: set podTemplate.securityContext.fsGroup 65532).
GIT_CLONE = RemoteTask(
    name="git-clone",
    url_field="git_clone_task_url",
    revision_field="git_clone_task_revision",
    path_in_repo="task/git-clone/git-clone.yaml",
    params={"url": False, "revision": True, "refspec": True, "submodules": True, "submodulePaths": True,
            "depth": True, "sslVerify": True, "crtFileName": True, "subdirectory": True,
            "sparseCheckoutDirectories": True, "deleteExisting": True, "httpProxy": True, "httpsProxy": True,
            "noProxy": True, "verbose": True, "userFriendlyErrors": True, "gitInitImage": True, "userHome": True},
    results=frozenset({"commit", "url", "committer-date"}),
    workspaces={"output": False, "ssh-directory": True, "basic-auth": True, "ssl-ca-directory": True},
)
GIT_CLONE_UID = 65532

# tektoncd-catalog/kaniko@v1.0.0:task/kaniko/kaniko.yaml. The executor (BUILDER_IMAGE) runs as uid 0
# without privileges, pushes to IMAGE and writes the pushed digest to IMAGE_DIGEST (--digest-file);
# registry credentials come from the optional `dockerconfig` workspace, mounted at /kaniko/.docker
# (config.json). EXTRA_ARGS (an array) go first on the executor's command line.
KANIKO = RemoteTask(
    name="kaniko",
    url_field="kaniko_task_url",
    revision_field="kaniko_task_revision",
    path_in_repo="task/kaniko/kaniko.yaml",
    params={"IMAGE": False, "DOCKERFILE": True, "CONTEXT": True, "EXTRA_ARGS": True, "BUILDER_IMAGE": True,
            "KANIKO_DIR": True},
    results=frozenset({"IMAGE_DIGEST", "IMAGE_URL"}),
    workspaces={"source": False, "dockerconfig": True},
)

REMOTE_TASKS: dict[str, RemoteTask] = {task.path_in_repo: task for task in (GIT_CLONE, KANIKO)}
