"""`gitops-platform:configRepo` and `gitops-platform:registry`: where the config lives, where images go."""
from __future__ import annotations

import re

from pydantic import field_validator, model_validator

from components.config.base import Model, PlatformConfigErrors, check_git_ref, check_repo_url, is_cluster_local
from components.urls import check_host


class ConfigRepo(Model):
    url: str
    revision: str = "main"
    username: str = "git"

    _url = field_validator("url")(classmethod(lambda cls, v: check_repo_url(v)))
    # The pipelines push deploy commits to it, so it must be a branch, not a tag or a commit.
    _revision = field_validator("revision")(classmethod(lambda cls, v: check_git_ref(v, "branch to push to")))

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        # Never echoed: a value with ':' is most likely user:password, and a password must not reach a
        # terminal or a CI log (the token belongs in `pulumi config set --secret gitToken`).
        if ":" in value:
            raise ValueError("is not a git username: it contains ':' (user:password?); set only the user name "
                             "here and the password or token with `pulumi config set --secret gitToken`; the "
                             "value is not shown")
        if not value or "@" in value or " " in value or len(value) > 255:
            raise ValueError("is not a git username (non-empty, at most 255 characters, no ':', '@' or spaces); "
                             "the value is not shown")
        return value


class Registry(Model):
    server: str = "docker.io"
    username: str | None = None
    insecure: bool = False   # served over plain HTTP (an in-cluster registry): builds push and tag without TLS
    # A private registry: an image pull Secret (REGISTRY_PULL_SECRET) from username + registryPassword in
    # every app namespace, for the apps' pods to name in imagePullSecrets.
    pull_secret: bool = False

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        # host[:port], the host a DNS name, an IPv4 address or a bracketed IPv6 address (the
        # distribution/reference domain grammar, lower-case as registries and Docker config keys use).
        if not re.fullmatch(r"([a-z0-9.-]+|\[[0-9a-f:]+\])(:[0-9]{1,5})?", value):
            raise ValueError(f"{value!r} is not a registry host like quay.io, ghcr.io, registry.local:5000 or "
                             "[fd00::1]:5000")
        host, port = (value[:value.index("]") + 1], value[value.index("]") + 2:]) if value.startswith("[") \
            else value.partition(":")[::2]
        check_host(host, repr(value))
        if port and not 1 <= int(port) <= 65535:
            raise ValueError(f"{value!r} has a port out of range (1-65535)")
        return value

    @model_validator(mode="after")
    def _pull_secret_needs_a_user(self):
        if self.pull_secret and not self.username:
            raise PlatformConfigErrors([("pullSecret", "needs registry.username (and the registryPassword secret): "
                                         "the pull Secret is made of both")])
        return self

    @model_validator(mode="after")
    def _plain_http_stays_local(self):
        if self.insecure and not is_cluster_local(self.server):
            raise PlatformConfigErrors([("insecure", f"plain HTTP is only for a registry inside the cluster "
                                         f"(*.svc, *.svc.cluster.local) or on this machine, not {self.server!r}: "
                                         "its password and images would cross the network in clear")])
        return self
