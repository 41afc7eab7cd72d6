"""Registry credentials shared by Tekton (push) and Flux (tag scanning): one docker config format."""
from __future__ import annotations

import base64
import json

DOCKER_HUB = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


def registry_host(server: str) -> str:
    """The canonical host of a registry (`docker.io` for Docker Hub's aliases)."""
    return "docker.io" if server in DOCKER_HUB_HOSTS else server


def registry_url(server: str) -> str:
    """The key Docker, Tekton and Flux use for a registry (Docker Hub's historical v1 URL for docker.io)."""
    return DOCKER_HUB if registry_host(server) == "docker.io" else f"https://{server}"


REGISTRY_PULL_SECRET = "registry-pull"   # the apps' image pull Secret (registry.pullSecret)


def docker_config_json(server: str, username: str, password: str) -> str:
    """A `.dockerconfigjson` document, as `kubectl create secret docker-registry` writes it."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {registry_url(server): {"username": username, "password": password, "auth": auth}}})
