"""Typed stack configuration: the user's interface to the platform.

`load_config` turns the raw Pulumi structured config (keys without the `gitops-platform:` prefix) into a
validated `PlatformConfig`, or raises `ConfigError` whose lines each name the exact key at fault, e.g.
`gitops-platform:apps[1].namespace: 'Book_Dev' is not a valid Kubernetes namespace name`.
Every model forbids unknown keys: a typo in a stack file is an error, never silently ignored.
"""
from __future__ import annotations

import posixpath
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from components.versions import Versions, check_pinned_image

PROJECT = "gitops-platform"
ENVIRONMENTS = ("dev", "staging", "prod")
# Top-level keys that hold secrets and are read with `pulumi config set --secret`, never in the model.
SECRET_KEYS = (
    "gitToken",             # config repo token (Argo CD repo secret, Tekton git-0, Flux GitRepository)
    "registryPassword",     # registry password/token (Tekton docker-0, Flux ImageRepository)
    "gitSshPrivateKey",     # optional SSH deploy key for the config repo (tekton.gitAuth: ssh)
    "argocdWebhookSecret",  # optional: generated when absent
    "tektonWebhookSecret",  # optional: generated when absent
    "fluxWebhookToken",     # optional: generated when absent
)
# Keys that meant something once: a clear message instead of "unknown key" (their values are never shown).
RETIRED_KEYS = {
    "argocdToken": "is no longer used: the pipeline tells Argo CD about a push through its webhook and waits "
                   "read-only, so no Argo CD token is needed; remove it (pulumi config rm argocdToken)",
}
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
RESERVED_NAMESPACES = frozenset({
    "default", "kube-system", "kube-public", "kube-node-lease", "argocd", "tekton-pipelines",
    "tekton-pipelines-resolvers", "flux-system", "flagger-system", "local-path-storage",
})


class PlatformConfigErrors(ValueError):
    """Several cross-field problems at once, each with its own key."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{k}: {m}" for k, m in errors))
        self.errors = errors


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


class Model(BaseModel):
    """Base for every config section: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, alias_generator=_camel,
                              str_strip_whitespace=False)


def dns_label(kind: str):
    def check(value: str) -> str:
        if not isinstance(value, str) or len(value) > 63 or not DNS1123_LABEL.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid Kubernetes {kind} (DNS-1123 label: lower-case "
                             "letters, digits and '-', at most 63 characters, starting and ending "
                             "with a letter or digit)")
        return value
    return check


def dns_subdomain(kind: str):
    def check(value: str) -> str:
        if not isinstance(value, str) or len(value) > 253 or not all(
                DNS1123_LABEL.fullmatch(part) for part in value.split(".")):
            raise ValueError(f"{value!r} is not a valid {kind} (DNS-1123 subdomain: lower-case letters, digits, "
                             "'-' and '.', at most 253 characters)")
        return value
    return check


def check_repo_url(value: str) -> str:
    """Absolute https://, http://, ssh:// or scp-like git@host:path URLs only."""
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValueError(f"{value!r} is not a repository URL")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(f"{value!r} is not a repository URL (it contains spaces or control characters)")
    if re.fullmatch(r"[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:[^/]\S*", value):  # git@github.com:org/repo.git
        return value
    parsed = urlparse(value)
    if parsed.scheme not in ("https", "http", "ssh") or not parsed.hostname or parsed.path in ("", "/"):
        raise ValueError(f"{value!r} is not an absolute https://, ssh:// or git@host:path repository URL")
    return value


def repo_host(url: str) -> str:
    """The host of a repository URL (`github.com` for both https and git@ forms)."""
    if "://" in url:
        return urlparse(url).hostname or ""
    return url.split("@", 1)[-1].split(":", 1)[0]


def repo_is_ssh(url: str) -> bool:
    return url.startswith("ssh://") or ("://" not in url and "@" in url)


def check_duration(value: str) -> str:
    if not isinstance(value, str) or not DURATION.fullmatch(value):
        raise ValueError(f"{value!r} is not a duration like 30s, 5m or 1h30m")
    return value


def duration_seconds(value: str) -> int:
    """Whole seconds of a duration like 1h30m or 90s (rounded up)."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total = sum(float(n) * units[u] for n, _, u in re.findall(r"([0-9]+(\.[0-9]+)?)(ms|s|m|h)", value))
    return max(1, int(-(-total // 1)))


def check_git_ref(value: str, what: str = "git branch name") -> str:
    """A branch/tag name git accepts: no spaces, no '..', not starting with '/'."""
    if not value or not re.fullmatch(r"[A-Za-z0-9._/-]+", value) or ".." in value or value.startswith("/"):
        raise ValueError(f"{value!r} is not a valid {what}")
    return value


def check_repo_path(value: str) -> str:
    """A path inside the config repo: relative, normalised, never escaping with `..`."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty path inside the config repo")
    if value.startswith("/") or "\\" in value:
        raise ValueError(f"{value!r} must be a relative path inside the config repo")
    norm = posixpath.normpath(value)
    if norm == ".." or norm.startswith("../") or ".." in value.split("/"):
        raise ValueError(f"{value!r} escapes the config repo with '..'")
    return norm


# ---------------------------------------------------------------- cluster
class KindCluster(Model):
    workers: int = Field(2, ge=0, le=10)
    argocd_host_port: int = Field(8080, ge=1, le=65535)
    dashboard_host_port: int = Field(9000, ge=1, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _moved_node_image(cls, data: Any) -> Any:
        if isinstance(data, dict) and "nodeImage" in data:
            raise PlatformConfigErrors([("nodeImage", "has moved to versions.kindNodeImage (every pin lives in the "
                                         "versions table; it must be name:tag@sha256:<digest> of the kind release "
                                         "in versions.kindVersion)")])
        return data

    @model_validator(mode="after")
    def _distinct_ports(self):
        if self.argocd_host_port == self.dashboard_host_port:
            raise PlatformConfigErrors([("dashboardHostPort", "must differ from argocdHostPort")])
        return self


class EksCluster(Model):
    region: str | None = None
    version: str = "1.35"
    instance_type: str = "t3.large"
    desired_nodes: int = Field(3, ge=1, le=100)
    min_nodes: int = Field(3, ge=1, le=100)
    max_nodes: int = Field(6, ge=1, le=100)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-[0-9]", value):
            raise ValueError(f"{value!r} is not an AWS region like us-west-2")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.fullmatch(r"1\.[0-9]{2}", str(value)):
            raise ValueError(f"{value!r} is not a Kubernetes minor version like \"1.33\"")
        return value

    @model_validator(mode="after")
    def _sizes(self):
        if not self.min_nodes <= self.desired_nodes <= self.max_nodes:
            raise PlatformConfigErrors([("desiredNodes", f"must satisfy minNodes <= desiredNodes <= maxNodes "
                                         f"(got {self.min_nodes} <= {self.desired_nodes} <= {self.max_nodes})")])
        return self


class ExistingCluster(Model):
    kubeconfig: str = "~/.kube/config"
    context: str | None = None


class ClusterConfig(Model):
    provider: Literal["kind", "eks", "existing"] = "kind"
    name: str | None = None
    kind: KindCluster = KindCluster()
    eks: EksCluster = EksCluster()
    existing: ExistingCluster = ExistingCluster()

    _name = field_validator("name")(classmethod(lambda cls, v: v if v is None else dns_label("cluster name")(v)))

    @model_validator(mode="after")
    def _eks_region(self):
        if self.provider == "eks" and not self.eks.region:
            raise PlatformConfigErrors([("eks.region", "is required when provider is eks")])
        return self


# ---------------------------------------------------------------- repos
class ConfigRepo(Model):
    url: str
    revision: str = "main"
    username: str = "git"

    _url = field_validator("url")(classmethod(lambda cls, v: check_repo_url(v)))

    _revision = field_validator("revision")(classmethod(lambda cls, v: check_git_ref(v, "git branch, tag or commit")))


class Registry(Model):
    server: str = "docker.io"
    username: str | None = None
    insecure: bool = False   # served over plain HTTP (an in-cluster registry): builds push and tag without TLS

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9.-]+(:[0-9]+)?", value):
            raise ValueError(f"{value!r} is not a registry host like quay.io or ghcr.io")
        return value


# ---------------------------------------------------------------- apps
class ImagePolicy(Model):
    """How Flux picks the newest tag: a semver range, or a regex pattern with an ordering."""

    semver: str | None = None
    pattern: str | None = None
    extract: str | None = None
    order: Literal["alphabetical", "numerical"] = "numerical"
    direction: Literal["asc", "desc"] = "asc"

    @model_validator(mode="after")
    def _one_policy(self):
        if bool(self.semver) == bool(self.pattern):
            raise ValueError("set exactly one of semver or pattern")
        if self.pattern:
            try:
                re.compile(self.pattern.replace("(?P<", "(?P<"))
            except re.error as err:
                raise ValueError(f"pattern {self.pattern!r} is not a valid regular expression: {err}") from None
            if self.extract and self.extract.startswith("$"):
                group = self.extract[1:].strip("{}")
                if group and not group.isdigit() and f"(?P<{group}>" not in self.pattern:
                    raise ValueError(f"extract {self.extract!r} names a group the pattern does not define")
        elif self.extract:
            raise ValueError("extract only applies with pattern")
        return self


class Canary(Model):
    """A Flagger canary for the app's Deployment (analysis defaults as in the seed)."""

    enabled: bool = True
    port: int = Field(8080, ge=1, le=65535)
    target_port: int | None = Field(None, ge=1, le=65535)
    interval: str = "30s"
    threshold: int = Field(5, ge=1, le=100)
    max_weight: int = Field(50, ge=1)
    step_weight: int = Field(10, ge=1)
    success_rate: float = Field(99, ge=0, le=100)
    max_duration_ms: int = Field(500, ge=1)
    load_test: bool = True
    progress_deadline_seconds: int = Field(600, ge=60)
    deployment: str | None = None  # Deployment name; default: the app name
    ingress: str | None = None     # Ingress (nginx, skipper) or ApisixRoute (apisix) the provider routes through
    gateway: str | None = None     # Gateway API Gateway, "name" or "namespace/name" (provider gatewayapi)

    _interval = field_validator("interval")(classmethod(lambda cls, v: check_duration(v)))
    _deployment = field_validator("deployment")(
        classmethod(lambda cls, v: v if v is None else dns_label("Deployment name")(v)))
    _ingress = field_validator("ingress")(
        classmethod(lambda cls, v: v if v is None else dns_label("Ingress name")(v)))

    @field_validator("interval")
    @classmethod
    def _flagger_interval(cls, value: str) -> str:
        # Flagger's CRD only takes whole seconds or minutes (pattern ^[0-9]+(m|s)).
        if not re.fullmatch(r"([0-9]+m)?([0-9]+s)?", value):
            raise ValueError(f"{value!r} is not a Flagger analysis interval (whole seconds or minutes: 30s, 1m, 1m30s)")
        return value

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, value: str | None) -> str | None:
        if value is not None:
            parts = value.split("/")
            if len(parts) > 2 or not all(DNS1123_LABEL.fullmatch(p) and len(p) <= 63 for p in parts):
                raise ValueError(f"{value!r} is not a Gateway reference like 'gateway' or 'infra/gateway'")
        return value

    @model_validator(mode="after")
    def _weights(self):
        if self.max_weight > 100:
            raise PlatformConfigErrors([("maxWeight", f"{self.max_weight} is over 100 (it is a percentage of traffic)")])
        if self.step_weight > self.max_weight:
            raise PlatformConfigErrors([("stepWeight", f"{self.step_weight} is larger than maxWeight {self.max_weight}")])
        return self


class Build(Model):
    """How the app is built from its source repo; paths are relative to the repo root."""

    context: str = "."
    dockerfile: str = "Dockerfile"
    # Globs of the files whose change builds the app (`**` any depth, `*` within a directory, `?` one
    # character); empty: any change. Monorepos list each service's directory.
    paths: list[str] = Field(default_factory=list)

    _context = field_validator("context")(classmethod(lambda cls, v: check_repo_path(v)))
    _dockerfile = field_validator("dockerfile")(classmethod(lambda cls, v: check_repo_path(v)))

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for glob in value:
            check_repo_path(glob)
            if glob_regex(glob) is None:
                raise ValueError(f"{glob!r} is not a path glob (letters, digits, '/', '.', '_', '-', '*', '?')")
        return value


def glob_regex(glob: str) -> str | None:
    """The RE2 regexp (for the trigger's CEL `matches`) of a path glob, anchored at both ends."""
    if not re.fullmatch(r"[A-Za-z0-9_./*?@+=-]+", glob) or "***" in glob:
        return None
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out += "(.*/)?"
            i += 3
        elif glob.startswith("**", i):
            out += ".*"
            i += 2
        elif glob[i] == "*":
            out += "[^/]*"
            i += 1
        elif glob[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(glob[i])
            i += 1
    return "^" + out + "$"


class App(Model):
    name: str
    namespace: str | None = None
    path: str | None = None
    image: str
    source_repo: str | None = None
    sync: Literal["auto", "manual"] | None = None
    image_policy: ImagePolicy | None = None
    canary: Canary | None = None
    build: Build = Build()

    _name = field_validator("name")(classmethod(lambda cls, v: dns_label("app name")(v)))
    _namespace = field_validator("namespace")(
        classmethod(lambda cls, v: v if v is None else dns_label("namespace name")(v)))
    _path = field_validator("path")(classmethod(lambda cls, v: v if v is None else check_repo_path(v)))
    _source = field_validator("source_repo")(classmethod(lambda cls, v: v if v is None else check_repo_url(v)))

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        # The app image is a repository; CI and Flux choose the tag, so a tag here is a mistake.
        if not re.fullmatch(r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._/-][a-z0-9]+)*)+", value) \
                and not re.fullmatch(r"[a-z0-9]+([._-][a-z0-9]+)*", value):
            raise ValueError(f"{value!r} is not an image repository like quay.io/org/app (no tag or digest)")
        return value

    @property
    def has_canary(self) -> bool:
        return self.canary is not None and self.canary.enabled


# ---------------------------------------------------------------- Argo CD
class SyncWindow(Model):
    kind: Literal["allow", "deny"] = "allow"
    schedule: str
    duration: str
    manual_sync: bool = True
    timezone: str = "UTC"
    # Which Applications the window covers (Argo CD applies a window to nothing unless it names
    # applications, namespaces or clusters); default: every Application of the project.
    applications: list[str] = Field(default_factory=lambda: ["*"], min_length=1)

    _duration = field_validator("duration")(classmethod(lambda cls, v: check_duration(v)))

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(re.fullmatch(r"[0-9*/,-]+", f) for f in fields):
            raise ValueError(f"{value!r} is not a 5-field cron schedule like '0 8 * * 1-5'")
        return value


class AppOfApps(Model):
    enabled: bool = False
    path: str = "argocd/apps"

    _path = field_validator("path")(classmethod(lambda cls, v: check_repo_path(v)))


class ArgoCDConfig(Model):
    ha: bool = False
    project: str = ""
    app_of_apps: AppOfApps = AppOfApps()
    reconciliation: str = "120s"
    webhook: bool = True
    cascade_delete: bool = False
    sync_windows: list[SyncWindow] | None = None
    # Where users and GitHub reach the Argo CD server when it sits behind an ingress or load balancer
    # the platform does not manage (eks/existing); drives the URL and webhook URL outputs.
    external_url: str | None = None

    _reconciliation = field_validator("reconciliation")(classmethod(lambda cls, v: check_duration(v)))

    @field_validator("external_url")
    @classmethod
    def _external_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query or parsed.fragment:
            raise ValueError(f"{value!r} is not an http(s) URL of the Argo CD server like https://argocd.example.com")
        if parsed.path not in ("", "/"):
            # Serving under a sub-path needs server.rootpath/basehref, which the platform does not set.
            raise ValueError(f"{value!r} has a path; serve Argo CD at the root of its own host name")
        return value.rstrip("/")

    @field_validator("app_of_apps", mode="before")
    @classmethod
    def _bool_shorthand(cls, value: Any) -> Any:
        # `appOfApps: true` is accepted as shorthand for `{enabled: true}`.
        return {"enabled": value} if isinstance(value, bool) else value

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if value == "default":
            raise ValueError("'default' is Argo CD's built-in AppProject (it allows every repo and "
                             "destination); choose a name of its own or leave it empty for the environment")
        return value if value == "" else dns_label("AppProject name")(value)


def app_of_apps_names(project: str) -> tuple[str, str]:
    """(AppProject, Application) names of the app-of-apps root for the platform project `project`."""
    return f"{project}-root", f"{project}-app-of-apps"


# ---------------------------------------------------------------- Tekton
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
    github_api_url: str | None = None      # for stage-release pull requests; default from configRepo.url

    _namespace = field_validator("namespace")(classmethod(lambda cls, v: dns_label("namespace name")(v)))

    _storage_class = field_validator("storage_class")(
        classmethod(lambda cls, v: v if v is None else dns_subdomain("StorageClass name")(v)))

    _deploy_timeout = field_validator("deploy_timeout")(classmethod(lambda cls, v: check_duration(v)))

    @property
    def deploy_timeout_seconds(self) -> int:
        return duration_seconds(self.deploy_timeout)

    _deploy_branch = field_validator("deploy_branch")(classmethod(lambda cls, v: check_git_ref(v)))

    @field_validator("release_branch_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._/-]*", value) or ".." in value or value.startswith("/"):
            raise ValueError(f"{value!r} is not a valid git branch name prefix")
        return value

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?", str(value)):
            raise ValueError(f"{value!r} is not a Kubernetes storage quantity like 1Gi")
        return value

    _test_image = field_validator("test_image")(classmethod(lambda cls, v: v if v is None else check_pinned_image(v)))

    @field_validator("github_api_url")
    @classmethod
    def _api(cls, value: str | None) -> str | None:
        if value is not None and (urlparse(value).scheme != "https" or not urlparse(value).hostname):
            raise ValueError(f"{value!r} is not an https:// URL of a GitHub API (https://api.github.com)")
        return value

    @model_validator(mode="after")
    def _ssh(self):
        if self.git_auth == "ssh" and not self.ssh_known_hosts:
            raise PlatformConfigErrors([("sshKnownHosts", "is required with gitAuth: ssh (host keys are verified, never skipped)")])
        return self


# ---------------------------------------------------------------- Flux / Flagger
FLUX_RECEIVER_TYPES = ("generic", "generic-hmac", "github", "gitlab", "bitbucket", "harbor", "dockerhub", "quay",
                       "gcr", "nexus", "acr")


class FluxConfig(Model):
    push_branch: str = ""
    sync: bool = False
    interval: str = "1m"
    receiver_type: str | None = None     # webhook Receiver type; default from registry.server
    ssh_known_hosts: str | None = None   # for an ssh configRepo.url (default: tekton.sshKnownHosts)
    git_author_name: str = "fluxcdbot"
    git_author_email: str = "fluxcdbot@users.noreply.github.com"

    _interval = field_validator("interval")(classmethod(lambda cls, v: check_duration(v)))

    _push_branch = field_validator("push_branch")(classmethod(lambda cls, v: v and check_git_ref(v)))

    @field_validator("receiver_type")
    @classmethod
    def _receiver_type(cls, value: str | None) -> str | None:
        if value is not None and value not in FLUX_RECEIVER_TYPES:
            raise ValueError(f"{value!r} is not a Flux Receiver type (one of {', '.join(FLUX_RECEIVER_TYPES)})")
        return value


MESH_PROVIDERS = ("kubernetes", "nginx", "istio", "linkerd", "appmesh", "contour", "gloo", "skipper",
                  "traefik", "apisix", "osm", "kuma", "gatewayapi")
# Providers whose Canary must name the object traffic enters through: an Ingress (nginx, skipper) or an
# ApisixRoute (apisix). contour, gloo and traefik generate their own routing objects; gatewayapi needs a
# Gateway instead (canary.gateway).
INGRESS_PROVIDERS = frozenset({"nginx", "skipper", "apisix"})


class FlaggerConfig(Model):
    mesh_provider: str = "kubernetes"
    prometheus: str = "http://prometheus.monitoring:9090"

    @field_validator("mesh_provider")
    @classmethod
    def _provider(cls, value: str) -> str:
        base = value.split(":", 1)[0]
        if base not in MESH_PROVIDERS:
            raise ValueError(f"{value!r} is not a Flagger provider (one of {', '.join(MESH_PROVIDERS)})")
        if base == "gatewayapi":
            # Flagger falls back to Istio for a bare "gatewayapi"; the API version must be explicit.
            if value == "gatewayapi":
                return "gatewayapi:v1"
            if value not in ("gatewayapi:v1", "gatewayapi:v1beta1"):
                raise ValueError(f"{value!r} is not a Gateway API provider (gatewayapi:v1 or gatewayapi:v1beta1)")
        return value

    @field_validator("prometheus")
    @classmethod
    def _prometheus(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL of a Prometheus server")
        return value


class Features(Model):
    tekton: bool = True
    flux: bool = True
    flagger: bool = True


# ---------------------------------------------------------------- the whole stack
class PlatformConfig(Model):
    environment: Literal["dev", "staging", "prod"]
    cluster: ClusterConfig = ClusterConfig()
    config_repo: ConfigRepo
    registry: Registry = Registry()
    apps: Annotated[list[App], Field(min_length=1)]
    features: Features = Features()
    versions: Versions = Versions()
    argocd: ArgoCDConfig = ArgoCDConfig()
    tekton: TektonConfig = TektonConfig()
    image_updates: Literal["tekton", "flux"] = "tekton"
    flux: FluxConfig = FluxConfig()
    flagger: FlaggerConfig = FlaggerConfig()
    protect: bool | None = None  # default: true in prod

    # ---- derived values every component uses, so the defaults live in one place
    @property
    def cluster_name(self) -> str:
        return self.cluster.name or f"gitops-{self.environment}"

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def protected(self) -> bool:
        return self.is_prod if self.protect is None else self.protect

    def namespace_of(self, app: App) -> str:
        return app.namespace or f"{app.name}-{self.environment}"

    def path_of(self, app: App) -> str:
        return app.path or f"{app.name}/overlays/{self.environment}"

    def sync_of(self, app: App) -> str:
        return app.sync or ("manual" if self.is_prod else "auto")

    @property
    def app_namespaces(self) -> list[str]:
        """Distinct app namespaces, in the order apps declare them."""
        return list(dict.fromkeys(self.namespace_of(app) for app in self.apps))

    @property
    def argocd_project(self) -> str:
        return self.argocd.project or self.environment

    @property
    def tekton_enabled(self) -> bool:
        return self.features.tekton

    @property
    def flux_enabled(self) -> bool:
        return self.features.flux and self.image_updates == "flux"

    @property
    def flagger_enabled(self) -> bool:
        return self.features.flagger and any(app.has_canary for app in self.apps)

    @property
    def sync_windows(self) -> list[SyncWindow]:
        if self.argocd.sync_windows is not None:
            return self.argocd.sync_windows
        if self.is_prod:  # prod default: people deploy during working hours only
            return [SyncWindow(kind="allow", schedule="0 8 * * 1-5", duration="9h", manual_sync=True)]
        return []

    @model_validator(mode="after")
    def _cross_checks(self):
        errors: list[tuple[str, str]] = []
        seen: dict[str, int] = {}
        for i, app in enumerate(self.apps):
            if app.name in seen:
                errors.append((f"apps[{i}].name", f"duplicate app name {app.name!r} (also apps[{seen[app.name]}])"))
            seen.setdefault(app.name, i)
            ns = self.namespace_of(app)
            where = f"apps[{i}].namespace"
            if ns in RESERVED_NAMESPACES or ns == self.tekton.namespace:
                errors.append((where, f"{ns!r} is reserved for the platform; choose an app namespace of its own"))
            if app.has_canary and not self.features.flagger:
                errors.append((f"apps[{i}].canary", "needs features.flagger: true"))
            if app.has_canary and self.flagger.mesh_provider.split(":")[0] in INGRESS_PROVIDERS \
                    and not app.canary.ingress:
                routed_by = "an ApisixRoute" if self.flagger.mesh_provider == "apisix" else "an Ingress"
                errors.append((f"apps[{i}].canary.ingress",
                               f"provider {self.flagger.mesh_provider!r} routes traffic through {routed_by}; "
                               f"name the app's {routed_by.split()[-1]}"))
            if app.has_canary and self.flagger.mesh_provider.startswith("gatewayapi") and not app.canary.gateway:
                errors.append((f"apps[{i}].canary.gateway",
                               f"provider {self.flagger.mesh_provider!r} routes traffic through a Gateway API "
                               "Gateway; name it ('gateway' or 'namespace/gateway')"))
            if self.image_updates == "flux" and app.image_policy is None:
                errors.append((f"apps[{i}].imagePolicy", "is required with imageUpdates: flux"))
        errors += self._name_collisions()
        errors += self._argocd_name_collisions()
        if self.image_updates == "flux" and not self.features.flux:
            errors.append(("imageUpdates", "'flux' needs features.flux: true"))
        if self.flux_enabled and repo_is_ssh(self.config_repo.url) \
                and not (self.flux.ssh_known_hosts or self.tekton.ssh_known_hosts):
            errors.append(("flux.sshKnownHosts", "is required for an ssh configRepo.url with imageUpdates: flux "
                           "(host keys are verified, never skipped)"))
        if self.tekton.git_auth == "ssh" and not repo_is_ssh(self.config_repo.url):
            errors.append(("tekton.gitAuth", "'ssh' needs an ssh:// or git@host:path configRepo.url"))
        if errors:
            raise PlatformConfigErrors(errors)
        return self

    def _argocd_name_collisions(self) -> list[tuple[str, str]]:
        """An app may not take the name of the app-of-apps root Application (same namespace, `argocd`)."""
        if not self.argocd.app_of_apps.enabled:
            return []
        _, root = app_of_apps_names(self.argocd_project)
        return [(f"apps[{i}].name", f"{app.name!r} is the name of the app-of-apps root Application "
                 "(argocd.appOfApps); rename the app or set argocd.project")
                for i, app in enumerate(self.apps) if app.name == root]

    def _name_collisions(self) -> list[tuple[str, str]]:
        """Objects two apps would both own once names are derived the way Kubernetes tools derive them.

        Flagger turns Deployment `d` into `d-primary` and adds Services `d`, `d-canary`, `d-primary`, so
        a canary app `web` and an app `web-primary` in the same namespace would fight over one object,
        and derived names must still fit the 63-character limit of a Service name.
        """
        errors: list[tuple[str, str]] = []
        owners: dict[tuple[str, str], int] = {}
        for i, app in enumerate(self.apps):
            ns = self.namespace_of(app)
            names = [app.name]
            if app.has_canary:
                target = app.canary.deployment or app.name
                names = list(dict.fromkeys([app.name, target, f"{target}-primary", f"{target}-canary"]))
                if len(target) > 63 - len("-primary"):
                    errors.append((f"apps[{i}].name" if not app.canary.deployment else f"apps[{i}].canary.deployment",
                                   f"{target!r} is too long for a canary: Flagger's '{target}-primary' would exceed "
                                   "63 characters"))
            for name in names:
                other = owners.get((ns, name))
                if other is not None and self.apps[other].name != app.name:  # same name: a duplicate, reported once
                    errors.append((f"apps[{i}].name", f"{app.name!r} collides with apps[{other}] "
                                   f"({self.apps[other].name!r}) on {name!r} in namespace {ns!r}"
                                   + (" (Flagger derives -primary/-canary names)" if name != app.name
                                      or self.apps[other].has_canary else "")))
                    break
                owners[(ns, name)] = i
        return errors


class ConfigError(Exception):
    """Invalid stack config; `lines` are ready to print, one problem each."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def _key(loc: tuple[Any, ...]) -> str:
    key = PROJECT + ":"
    first = True
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif not re.fullmatch(r"[A-Za-z0-9_.-]+", str(part)):
            key += f"[{str(part)!r}]"  # a hostile key is quoted, never printed raw (newlines, spaces)
        else:
            key += ("" if first else ".") + str(part)
        first = False
    return key


def _message(err: dict[str, Any]) -> str:
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see the config reference in README.md)"
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        expected = msg.split("Input should be ", 1)[-1]
        return f"{value!r} is not one of {expected}"
    if kind.startswith("value_error"):
        return msg.removeprefix("Value error, ")
    if kind == "model_type" or kind == "model_attributes_type":
        return f"must be a mapping of keys, got {type(value).__name__} {value!r}"
    if kind == "list_type":
        return f"must be a list, got {type(value).__name__} {value!r}"
    return f"{msg.removeprefix('Input should be ').join(['must be ', ''])}, got {value!r}" \
        if msg.startswith("Input should be") else msg


def _normalise_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic reports model aliases already; drop internal markers such as 'function-after[...]'.
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p and p.endswith("]"))))


def load_config(raw: dict[str, Any], stack: str) -> PlatformConfig:
    """Validate raw structured config (keys without the project prefix) for `stack`."""
    data = dict(raw)
    if "environment" not in data:
        if stack in ENVIRONMENTS:
            data["environment"] = stack
        else:
            raise ConfigError([f"{PROJECT}:environment: is required because stack {stack!r} is not named "
                               f"after an environment ({', '.join(ENVIRONMENTS)})"])
    retired = [f"{PROJECT}:{key}: {why}" for key, why in RETIRED_KEYS.items() if key in data]
    if retired:
        raise ConfigError(retired)
    unexpected_secrets = [k for k in SECRET_KEYS if k in data]
    for key in unexpected_secrets:
        data.pop(key)
    try:
        return PlatformConfig.model_validate(data)
    except ValidationError as exc:
        lines: list[str] = []
        for err in exc.errors(include_url=False):
            ctx_error = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_error, PlatformConfigErrors):
                base = _key(_normalise_loc(err["loc"]))
                sep = "" if base.endswith(":") else "."
                lines += [f"{base}{sep if not k.startswith('[') else ''}{k}: {m}" for k, m in ctx_error.errors]
                continue
            lines.append(f"{_key(_normalise_loc(err['loc']))}: {_message(err)}")
        raise ConfigError(list(dict.fromkeys(lines))) from None


# ---------------------------------------------------------------- reading Pulumi config
def _raw_stack_config() -> dict[str, Any]:
    """Every `gitops-platform:*` key the engine passed to the program, structured values decoded."""
    import json

    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw: dict[str, Any] = {}
    for key, value in merged.items():
        namespace, _, name = key.partition(":")
        if namespace != PROJECT or name in SECRET_KEYS:
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        raw[name] = value
    return raw


def read_stack_config() -> PlatformConfig:
    """The validated config of the current stack (raises ConfigError)."""
    import pulumi

    return load_config(_raw_stack_config(), pulumi.get_stack())


def read_stack_secrets():
    """The secrets set with `pulumi config set --secret`, as secret Outputs (None when unset)."""
    import pulumi

    from components.platform import PlatformSecrets

    config = pulumi.Config(PROJECT)
    names = {"git_token": "gitToken", "registry_password": "registryPassword",
             "git_ssh_private_key": "gitSshPrivateKey", "argocd_webhook_secret": "argocdWebhookSecret",
             "tekton_webhook_secret": "tektonWebhookSecret",
             "flux_webhook_token": "fluxWebhookToken"}
    return PlatformSecrets(**{field: config.get_secret(key) for field, key in names.items()})
