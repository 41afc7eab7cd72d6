"""The laptop default: a kind stack with no `configRepo` gets an in-cluster Git server (Gitea) holding the
example app and config repo, and an in-cluster registry; with no `apps`, it deploys the example app with
a canary. `embedded_defaults()` fills those in before validation, so every other rule applies to them
exactly as to a user's values."""
from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from components.config.base import Model
from components.versions import PINNED

GIT_NAMESPACE = "gitea"
GIT_SERVICE = "gitea-http"
GIT_PORT = 3000
GIT_OWNER = "gitops"                     # the Git server's admin, owner of the seeded repos ("admin" is reserved)
GIT_BASE = f"http://{GIT_SERVICE}.{GIT_NAMESPACE}.svc.cluster.local:{GIT_PORT}"
CONFIG_REPO = "config"
EXAMPLE_APP = "hello"
REGISTRY_NAMESPACE = "registry"
REGISTRY_HOST = f"registry.{REGISTRY_NAMESPACE}.svc.cluster.local:5000"
# A fixed ClusterIP inside kind's service range (10.96.0.0/16; the low band static IPs are preferred in,
# KEP-3070), so the nodes' containerd, which cannot resolve cluster DNS names, is pointed at it by IP.
REGISTRY_CLUSTER_IP = "10.96.0.100"


def repo_url(name: str) -> str:
    return f"{GIT_BASE}/{GIT_OWNER}/{name}.git"


def example_app() -> dict[str, Any]:
    return {"name": EXAMPLE_APP, "image": f"{REGISTRY_HOST}/{GIT_OWNER}/{EXAMPLE_APP}",
            "sourceRepo": repo_url(EXAMPLE_APP),
            # A quicker analysis than the seed's 30s x 5 steps, so a push is serving within minutes on a
            # laptop: 25% then 50% of the traffic, a check every 15s, five failed checks roll it back.
            "canary": {"enabled": True, "interval": "15s", "stepWeight": 25, "maxWeight": 50}}


class GitServerConfig(Model):
    """`gitops-platform:gitServer` (kind only): the embedded Gitea. On when `configRepo` is not set."""

    enabled: bool = False
    host_port: int = Field(3000, ge=1, le=65535)   # kind: http://localhost:<hostPort> reaches its web UI and git
    storage: str = "2Gi"

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        from components.config.tekton import check_storage
        return check_storage(value)


def embedded_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """`data` (a stack's raw config) with the embedded defaults: on kind without `configRepo`, the Git
    server and its config repo, the in-cluster registry (unless `registry` is set), and the example app
    with its test settings (unless `apps` is set)."""
    cluster = data.get("cluster") if isinstance(data.get("cluster"), dict) else {}
    if "configRepo" in data or cluster.get("provider", "kind") != "kind":
        return data
    data = dict(data)
    git_server = dict(data.get("gitServer") or {}) if isinstance(data.get("gitServer"), dict) else {}
    data["gitServer"] = {**git_server, "enabled": True}
    data["configRepo"] = {"url": repo_url(CONFIG_REPO), "revision": "main", "username": GIT_OWNER}
    data.setdefault("registry", {"server": REGISTRY_HOST, "insecure": True})
    if "apps" not in data:
        data["apps"] = [example_app()]
        tekton = dict(data.get("tekton") or {}) if isinstance(data.get("tekton"), dict) else {}
        # The example app's tests are Python (examples/hello/tests): run them in the pinned python image.
        tekton.setdefault("testScript", "python3 -m unittest discover -s tests -v")
        versions = data.get("versions") if isinstance(data.get("versions"), dict) else {}
        tekton.setdefault("testImage", versions.get("imagePython") or PINNED.image_python)
        data["tekton"] = tekton
    return data
