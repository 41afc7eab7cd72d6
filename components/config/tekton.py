"""`gitops-platform:tekton`: the CI pipelines' namespace, identity, storage, tests and timing."""
from __future__ import annotations

import base64
import binascii
import re
from typing import Literal

from pydantic import field_validator, model_validator

from components.config.base import (
    Model,
    PlatformConfigErrors,
    check_duration,
    check_git_ref,
    dns_label,
    dns_subdomain,
    duration_seconds,
)
from components.grammars import quantity
from components.urls import check_url
from components.versions import check_pinned_image

# Host key types OpenSSH writes to known_hosts (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT").
KEY_TYPES = frozenset({
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss",
})
EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+")


def check_storage(value: str) -> str:
    """A PersistentVolumeClaim storage request: a Kubernetes quantity greater than zero."""
    problems = quantity.validate_pvc_storage(value)
    if problems:
        raise ValueError(f"{value!r} is not a positive Kubernetes storage quantity like 1Gi or 500Mi "
                         f"({problems[0]})")
    return value


def check_known_hosts(value: str) -> str:
    """At least one well-formed known_hosts line: hosts, key type, base64 key (whose blob names the type)."""
    lines = [line.strip() for line in value.splitlines() if line.strip() and not line.strip().startswith("#")]
    if not lines:
        raise ValueError("holds no known_hosts line (hosts key-type base64-key, e.g. from ssh-keyscan)")
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if fields and fields[0] in ("@cert-authority", "@revoked"):
            fields = fields[1:]
        if len(fields) < 3 or fields[1] not in KEY_TYPES:
            raise ValueError(f"line {number} is not a known_hosts line (hosts key-type base64-key)")
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"line {number}: the key is not base64") from None
        name_length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
        if blob[4:4 + name_length].decode(errors="replace") != fields[1]:
            raise ValueError(f"line {number}: the key is not a {fields[1]} key")
    return value


class TektonConfig(Model):
    namespace: str = "gitops-ci"
    git_auth: Literal["token", "ssh"] = "token"
    ssh_known_hosts: str | None = None    # required with gitAuth: ssh
    release_branch_prefix: str = "release-"
    storage: str = "1Gi"
    storage_class: str | None = None      # StorageClass of the run volumes; default: the cluster's default class
    git_user_name: str = "gitops-platform pipeline-bot"
    git_user_email: str = "pipeline-bot@gitops-platform.local"
    deploy_branch: str = "main"           # pushes to this source branch update the dev overlay
    test_image: str | None = None         # image of the run-tests task (default: versions.imageTestRunner)
    test_script: str = "if [ -x ./ci/test.sh ]; then ./ci/test.sh; else echo 'no executable ci/test.sh: no tests'; fi"
    wait_for_deploy: bool = True          # after a dev deploy, wait until Argo CD runs it (fail the run if not)
    deploy_timeout: str = "10m"           # how long that wait may take
    github_api_url: str | None = None     # for stage-release pull requests; default from configRepo.url
    # Which pull-request API the config repo's server speaks; default: gitea for the embedded Git server,
    # github otherwise (GitHub Enterprise too).
    git_api: Literal["github", "gitea"] | None = None

    _namespace = field_validator("namespace")(classmethod(lambda cls, v: dns_label("namespace name")(v)))
    _storage_class = field_validator("storage_class")(
        classmethod(lambda cls, v: v if v is None else dns_subdomain("StorageClass name")(v)))
    _deploy_timeout = field_validator("deploy_timeout")(classmethod(lambda cls, v: check_duration(v)))
    _deploy_branch = field_validator("deploy_branch")(classmethod(lambda cls, v: check_git_ref(v)))
    _storage = field_validator("storage")(classmethod(lambda cls, v: check_storage(v)))
    _test_image = field_validator("test_image")(classmethod(lambda cls, v: v if v is None else check_pinned_image(v)))
    _known_hosts = field_validator("ssh_known_hosts")(
        classmethod(lambda cls, v: v if v is None else check_known_hosts(v)))

    @property
    def deploy_timeout_seconds(self) -> int:
        return duration_seconds(self.deploy_timeout)

    @field_validator("release_branch_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        # The release branch is the prefix and a version such as 1.2.3: that name must be a valid branch.
        try:
            check_git_ref(value + "1.2.3", "branch name")
        except ValueError:
            raise ValueError(f"{value!r} is not a valid git branch name prefix (git check-ref-format of "
                             f"'{value}1.2.3')") from None
        return value

    @field_validator("git_user_name")
    @classmethod
    def _user(cls, value: str) -> str:
        if not value.strip() or "<" in value or ">" in value:
            raise ValueError(f"{value!r} is not a commit author name (non-empty, no '<' or '>')")
        return value

    @field_validator("git_user_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an email address like pipeline-bot@example.com")
        return value

    @field_validator("github_api_url")
    @classmethod
    def _api(cls, value: str | None) -> str | None:
        if value is not None:
            check_url(value, "(a GitHub API such as https://api.github.com)", ("https",))
        return value

    @model_validator(mode="after")
    def _ssh(self):
        if self.git_auth == "ssh" and not self.ssh_known_hosts:
            raise PlatformConfigErrors([("sshKnownHosts", "is required with gitAuth: ssh (host keys are verified, "
                                         "never skipped)")])
        return self
