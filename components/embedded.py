"""The laptop default (kind without `configRepo`): an in-cluster Git server, an in-cluster registry, and the
seeding that fills the Git server with the example app and config repo.

- **Git server**: Gitea (rootless image by digest, sqlite on a volume, one replica). Its push webhooks
  carry GitHub's event and signature headers (X-GitHub-Event, X-Hub-Signature-256) besides its own, so
  Tekton's `github` interceptor takes them (tektoncd/triggers@v0.37.0 pkg/interceptors/github); it also
  sends X-Gogs-Event, which Argo CD parses as Gogs (argo-cd@v3.4.4 util/webhook/webhook.go), hence the
  Gogs webhook secret. Its pull-request API is what stage-release calls (flavor gitea).
- **Registry**: distribution `registry:3` by digest behind a fixed ClusterIP. The builder pushes to
  `registry.registry.svc.cluster.local:5000` over plain HTTP; the nodes' containerd (which cannot resolve
  cluster names) is told by a hosts.toml that this name is `http://10.96.0.100:5000`
  (components/cluster/kind.py writes it, as kind's own local-registry example does).
- **Seeding**: a Job that creates the repos and their push webhooks, pushes `examples/hello` and
  `examples/config` into repos that have no commit yet, and builds the app's first image (`:bootstrap`)
  so the first sync has something to run. Its name carries the hash of what it seeds: a second
  `pulumi up` changes nothing, new content makes a new Job that still never overwrites a commit.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import PlatformConfig
from components.config.embedded import (
    CONFIG_REPO,
    EXAMPLE_APP,
    GIT_BASE,
    GIT_NAMESPACE,
    GIT_OWNER,
    GIT_PORT,
    GIT_SERVICE,
    REGISTRY_CLUSTER_IP,
    REGISTRY_HOST,
    REGISTRY_NAMESPACE,
)
from components.models import LABELS, pod_security

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SEED_SCRIPTS = Path(__file__).with_name("seed")
GITEA_FEED_COMMITS = 100  # commits a push webhook of the embedded Gitea lists
GITEA_UID = 1000           # the rootless image's USER 1000:1000 (go-gitea/gitea Dockerfile.rootless)
GIT_NODE_PORT = 30300      # kind maps gitServer.hostPort to it
REGISTRY_PORT = 5000
REGISTRY_UID = 65532
SEED_RETRIES = 2           # the seeding Job's backoffLimit
SEED_TIMEOUT = 900         # its activeDeadlineSeconds: cold image pulls on a laptop included
SEED_REPOS = (CONFIG_REPO, EXAMPLE_APP)   # push order: the config repo first, since the app's push starts CI
GIT_REQUESTS = {"cpu": "50m", "memory": "128Mi"}
REGISTRY_REQUESTS = {"cpu": "10m", "memory": "32Mi"}


def seed_tarball(directory: Path) -> bytes:
    """A reproducible .tar.gz of `directory` (sorted, no times, no owners), so the same files always give
    the same bytes and the seeding Job's hash only moves when the examples change."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            info = tarfile.TarInfo(path.relative_to(directory).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0, 0, "", ""
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def seed_content() -> dict[str, bytes]:
    return {"config.tar.gz": seed_tarball(EXAMPLES / "config"), "hello.tar.gz": seed_tarball(EXAMPLES / "hello")}


def hooks(cfg: PlatformConfig, tekton_listener: str | None) -> list[dict]:
    """The push webhooks of the seeded repos: the app repo to Tekton's EventListener, the config repo to
    argocd-server (plain HTTP inside the cluster: server.insecure on kind)."""
    found = [{"repo": CONFIG_REPO, "url": "http://argocd-server.argocd.svc.cluster.local/api/webhook",
              "secretEnv": "ARGOCD_SECRET"}] if cfg.argocd.webhook else []
    if tekton_listener:
        found.append({"repo": EXAMPLE_APP, "url": tekton_listener, "secretEnv": "TEKTON_SECRET"})
    return found


def seed_hash(cfg: PlatformConfig, tekton_listener: str | None) -> str:
    digest = hashlib.sha256()
    for name, data in sorted(seed_content().items()):
        digest.update(name.encode() + data)
    for script in sorted(SEED_SCRIPTS.iterdir()):
        digest.update(script.read_bytes())
    digest.update(json.dumps(hooks(cfg, tekton_listener), sort_keys=True).encode())
    digest.update(cfg.versions.image_kaniko.encode())
    return digest.hexdigest()[:10]


@dataclass(frozen=True)
class GitServerArgs:
    config: PlatformConfig
    provider: k8s.Provider
    on_kind: bool = True


class EmbeddedGitServer(pulumi.ComponentResource):
    """Gitea in namespace `gitea`: the admin `gitops` with a generated password (its credentials are the
    pipelines', Argo CD's and the seeding's), stable generated secret keys, a volume for its data.
    Outputs: url (in-cluster), web_url (from this machine), username, password (secret)."""

    def __init__(self, name: str, args: GitServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:embedded:GitServer", name, None, opts)
        cfg = args.config
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        child = pulumi.ResourceOptions(parent=self)
        labels = {**LABELS, "app.kubernetes.io/name": "gitea"}
        namespace = k8s.core.v1.Namespace(
            # `baseline`: the seeding Job's kaniko container builds the bootstrap image as root (kaniko
            # needs it, as in the pipeline); Gitea itself and the other seeding steps pass `restricted`.
            f"{name}-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(name=GIT_NAMESPACE, labels={
                **LABELS, **pod_security("baseline")}),
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(protect=cfg.protected)))
        in_ns = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[namespace]))

        def meta(n: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=n, namespace=GIT_NAMESPACE, labels=labels)

        self.password = pulumi.Output.secret(random.RandomPassword(
            f"{name}-admin-password", length=32, special=False, opts=child).result)
        secret_key = random.RandomPassword(f"{name}-secret-key", length=64, special=False, opts=child).result
        internal_token = random.RandomPassword(f"{name}-internal-token", length=64, special=False, opts=child).result
        secrets = k8s.core.v1.Secret(
            f"{name}-secrets", metadata=meta("gitea"),
            string_data=pulumi.Output.secret(pulumi.Output.all(self.password, secret_key, internal_token).apply(
                lambda v: {"admin-password": v[0], "secret-key": v[1], "internal-token": v[2]})),
            opts=in_ns)
        data = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data", metadata=meta("gitea-data"),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": cfg.git_server.storage})),
            opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(protect=cfg.protected)))

        def from_secret(key: str) -> k8s.core.v1.EnvVarSourceArgs:
            return k8s.core.v1.EnvVarSourceArgs(secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name="gitea", key=key))

        # app.ini from the environment (GITEA__<section>__<key>, the image's environment-to-ini): ROOT_URL
        # is the in-cluster address, so clone URLs and webhook payloads name the host Argo CD and the
        # EventListener know; webhooks may call private (cluster) addresses, which Gitea blocks by default.
        settings = {
            "GITEA__server__ROOT_URL": f"{GIT_BASE}/", "GITEA__server__HTTP_PORT": str(GIT_PORT),
            "GITEA__server__DISABLE_SSH": "true", "GITEA__database__DB_TYPE": "sqlite3",
            "GITEA__security__INSTALL_LOCK": "true", "GITEA__service__DISABLE_REGISTRATION": "true",
            "GITEA__webhook__ALLOWED_HOST_LIST": "private", "GITEA__repository__DEFAULT_BRANCH": "main",
            "GITEA__log__LEVEL": "Warn",
            # Push webhooks list at most [ui] FEED_MAX_COMMIT_NUM commits (default 5, go-gitea/gitea
            # services/repository/push.go); the monorepo filter reads their file lists, so list more (a
            # truncated push builds anyway: tekton/triggers.py truncated_push).
            "GITEA__ui__FEED_MAX_COMMIT_NUM": str(GITEA_FEED_COMMITS),
        }
        env = [*(k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in settings.items()),
               k8s.core.v1.EnvVarArgs(name="GITEA__security__SECRET_KEY", value_from=from_secret("secret-key")),
               k8s.core.v1.EnvVarArgs(name="GITEA__security__INTERNAL_TOKEN", value_from=from_secret("internal-token"))]
        mounts = [k8s.core.v1.VolumeMountArgs(name="data", mount_path="/var/lib/gitea"),
                  k8s.core.v1.VolumeMountArgs(name="config", mount_path="/etc/gitea"),
                  k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")]
        container_security = k8s.core.v1.SecurityContextArgs(
            allow_privilege_escalation=False, read_only_root_filesystem=True,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]))
        # The image's entrypoint writes app.ini (docker-setup.sh) and then runs the arguments: migrate the
        # database and make (or re-password) the admin, whose password is the generated one.
        admin = ("gitea migrate && (gitea admin user create --admin --username \"$ADMIN_USER\" --password "
                 "\"$ADMIN_PASSWORD\" --email \"$ADMIN_USER@gitops-platform.local\" --must-change-password=false "
                 "|| gitea admin user change-password --username \"$ADMIN_USER\" --password \"$ADMIN_PASSWORD\" "
                 "--must-change-password=false)")
        selector = {"app.kubernetes.io/name": "gitea"}
        http_probe = k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path="/api/healthz", port="http"),
                                           period_seconds=10)
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment", metadata=meta("gitea"),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1, strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={**labels, **selector}),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True, run_as_user=GITEA_UID, run_as_group=GITEA_UID, fs_group=GITEA_UID,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")),
                        init_containers=[k8s.core.v1.ContainerArgs(
                            name="setup", image=cfg.versions.image_git_server, args=["/bin/sh", "-c", admin],
                            env=[*env, k8s.core.v1.EnvVarArgs(name="ADMIN_USER", value=GIT_OWNER),
                                 k8s.core.v1.EnvVarArgs(name="ADMIN_PASSWORD", value_from=from_secret("admin-password"))],
                            volume_mounts=mounts, security_context=container_security)],
                        containers=[k8s.core.v1.ContainerArgs(
                            name="gitea", image=cfg.versions.image_git_server, env=env, volume_mounts=mounts,
                            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=GIT_PORT)],
                            readiness_probe=http_probe, liveness_probe=http_probe,
                            resources=k8s.core.v1.ResourceRequirementsArgs(requests=GIT_REQUESTS,
                                                                           limits={"memory": "512Mi"}),
                            security_context=container_security)],
                        volumes=[k8s.core.v1.VolumeArgs(name="data", persistent_volume_claim=k8s.core.v1.
                                                        PersistentVolumeClaimVolumeSourceArgs(claim_name="gitea-data")),
                                 k8s.core.v1.VolumeArgs(name="config", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()),
                                 k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())]))),
            opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[secrets, data])))
        port = k8s.core.v1.ServicePortArgs(name="http", port=GIT_PORT, target_port="http",
                                           node_port=GIT_NODE_PORT if args.on_kind else None)
        self.service = k8s.core.v1.Service(
            f"{name}-service", metadata=meta(GIT_SERVICE),
            spec=k8s.core.v1.ServiceSpecArgs(type="NodePort" if args.on_kind else "ClusterIP", selector=selector,
                                             ports=[port]),
            opts=in_ns)
        self.namespace = namespace
        self.url = GIT_BASE
        self.web_url = f"http://localhost:{cfg.git_server.host_port}" if args.on_kind else GIT_BASE
        self.username = GIT_OWNER
        self.register_outputs({"url": self.url, "webUrl": self.web_url, "username": self.username,
                               "password": self.password})


@dataclass(frozen=True)
class RegistryArgs:
    config: PlatformConfig
    provider: k8s.Provider


class InClusterRegistry(pulumi.ComponentResource):
    """distribution's registry (by digest) in namespace `registry` on a volume, behind the fixed ClusterIP
    the nodes' containerd is pointed at, and KEP-1755's `kube-public/local-registry-hosting` ConfigMap
    that tells tools where it is. Output: host."""

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:embedded:Registry", name, None, opts)
        cfg = args.config
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        labels = {**LABELS, "app.kubernetes.io/name": "registry"}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(name=REGISTRY_NAMESPACE, labels={
                **LABELS, **pod_security("restricted")}),
            opts=on_cluster)
        in_ns = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[namespace]))

        def meta(n: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=n, namespace=REGISTRY_NAMESPACE, labels=labels)

        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data", metadata=meta("registry-data"),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": "10Gi"})),
            opts=in_ns)
        selector = {"app.kubernetes.io/name": "registry"}
        probe = k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path="/v2/", port="registry"),
                                      period_seconds=10)
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment", metadata=meta("registry"),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1, strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={**labels, **selector}),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        # The distribution image runs as root by default; it needs no privilege (port
                        # 5000, data on the volume), so it runs as a fixed non-root user.
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True, run_as_user=REGISTRY_UID, run_as_group=REGISTRY_UID,
                            fs_group=REGISTRY_UID, seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")),
                        containers=[k8s.core.v1.ContainerArgs(
                            name="registry", image=cfg.versions.image_registry,
                            env=[k8s.core.v1.EnvVarArgs(name="REGISTRY_STORAGE_DELETE_ENABLED", value="true")],
                            ports=[k8s.core.v1.ContainerPortArgs(name="registry", container_port=REGISTRY_PORT)],
                            readiness_probe=probe, liveness_probe=probe,
                            resources=k8s.core.v1.ResourceRequirementsArgs(requests=REGISTRY_REQUESTS,
                                                                           limits={"memory": "256Mi"}),
                            security_context=k8s.core.v1.SecurityContextArgs(
                                allow_privilege_escalation=False, read_only_root_filesystem=True,
                                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"])),
                            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="data", mount_path="/var/lib/registry")])],
                        volumes=[k8s.core.v1.VolumeArgs(name="data", persistent_volume_claim=k8s.core.v1.
                                                        PersistentVolumeClaimVolumeSourceArgs(
                                                            claim_name="registry-data"))]))),
            opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[claim])))
        self.service = k8s.core.v1.Service(
            f"{name}-service", metadata=meta("registry"),
            spec=k8s.core.v1.ServiceSpecArgs(cluster_ip=REGISTRY_CLUSTER_IP, selector=selector, ports=[
                k8s.core.v1.ServicePortArgs(name="registry", port=REGISTRY_PORT, target_port="registry")]),
            opts=in_ns)
        k8s.core.v1.ConfigMap(
            f"{name}-hosting",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="local-registry-hosting", namespace="kube-public", labels=LABELS),
            data={"localRegistryHosting.v1": (
                f'host: "{REGISTRY_HOST}"\nhostFromContainerRuntime: "{REGISTRY_HOST}"\n'
                f'hostFromClusterNetwork: "{REGISTRY_HOST}"\n'
                'help: "https://github.com/gitops-platform: the in-cluster registry of the dev stack"\n')},
            opts=on_cluster)
        self.host = REGISTRY_HOST
        self.register_outputs({"host": self.host})


@dataclass(frozen=True)
class SeedArgs:
    config: PlatformConfig
    provider: k8s.Provider
    git: EmbeddedGitServer
    registry: pulumi.Resource | None
    tekton_secret: pulumi.Output[str] | None        # the EventListener's webhook secret
    argocd_secret: pulumi.Output[str] | None        # Argo CD's (its Gogs and GitHub webhook secret)
    tekton_listener: str | None                     # the EventListener's in-cluster URL
    after: tuple[pulumi.Resource, ...] = ()         # the receivers must exist before the hooks fire


class Seed(pulumi.ComponentResource):
    """The seeding Job (see the module docstring), with its content in a ConfigMap and its secrets in a
    Secret of its own. Output: job (its name)."""

    def __init__(self, name: str, args: SeedArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:embedded:Seed", name, None, opts)
        cfg = args.config
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        suffix = seed_hash(cfg, args.tekton_listener)
        labels = {**LABELS, "app.kubernetes.io/name": "gitea-seed"}

        def meta(n: str, annotations: dict[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=n, namespace=GIT_NAMESPACE, labels=labels, annotations=annotations)

        after_git = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[args.git.namespace]))
        content = k8s.core.v1.ConfigMap(
            f"{name}-content", metadata=meta(f"gitea-seed-{suffix}"),
            binary_data={k: base64.b64encode(v).decode() for k, v in seed_content().items()},
            data={"seed_api.py": (SEED_SCRIPTS / "seed_api.py").read_text(),
                  "seed_git.sh": (SEED_SCRIPTS / "seed_git.sh").read_text()},
            opts=after_git)
        values = {"password": args.git.password}
        if args.tekton_secret is not None:
            values["tekton"] = args.tekton_secret
        if args.argocd_secret is not None:
            values["argocd"] = args.argocd_secret
        secret = k8s.core.v1.Secret(
            f"{name}-secret", metadata=meta("gitea-seed"),
            string_data=pulumi.Output.secret(pulumi.Output.all(**values)), opts=after_git)

        def from_secret(key: str) -> k8s.core.v1.EnvVarSourceArgs:
            return k8s.core.v1.EnvVarSourceArgs(secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name="gitea-seed",
                                                                                                 key=key))

        base_env = [k8s.core.v1.EnvVarArgs(name="GIT_BASE", value=GIT_BASE),
                    k8s.core.v1.EnvVarArgs(name="GIT_USER", value=GIT_OWNER),
                    k8s.core.v1.EnvVarArgs(name="GIT_PASSWORD", value_from=from_secret("password")),
                    k8s.core.v1.EnvVarArgs(name="REPOS", value=" ".join(SEED_REPOS))]
        api_env = [*base_env,
                   k8s.core.v1.EnvVarArgs(name="HOOKS", value=json.dumps(hooks(cfg, args.tekton_listener))),
                   k8s.core.v1.EnvVarArgs(name="WAIT_FOR", value=json.dumps(
                       [f"{args.tekton_listener}/live"] if args.tekton_listener else []))]
        if args.tekton_secret is not None:
            api_env.append(k8s.core.v1.EnvVarArgs(name="TEKTON_SECRET", value_from=from_secret("tekton")))
        if args.argocd_secret is not None:
            api_env.append(k8s.core.v1.EnvVarArgs(name="ARGOCD_SECRET", value_from=from_secret("argocd")))
        non_root = k8s.core.v1.SecurityContextArgs(run_as_non_root=True, run_as_user=65532,
                                                   allow_privilege_escalation=False,
                                                   capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                                                   seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"))
        # A failed container's last log lines become its termination message, which the provider's pod
        # checks put in the `pulumi up` error (await/checker/pod/check.go reads containers' terminated state).
        LOG_TAIL = "FallbackToLogsOnError"  # noqa: N806
        seed_mount = k8s.core.v1.VolumeMountArgs(name="seed", mount_path="/seed", read_only=True)
        init = [
            k8s.core.v1.ContainerArgs(name="repos-and-hooks", image=cfg.versions.image_python, env=api_env,
                                      command=["python3", "/seed/seed_api.py"], volume_mounts=[seed_mount],
                                      security_context=non_root, termination_message_policy=LOG_TAIL),
            k8s.core.v1.ContainerArgs(name="push", image=cfg.versions.image_git, command=["sh", "/seed/seed_git.sh"],
                                      env=[*base_env, k8s.core.v1.EnvVarArgs(name="SEED_DIR", value="/seed")],
                                      volume_mounts=[seed_mount], security_context=non_root,
                                      termination_message_policy=LOG_TAIL),
        ]
        # The app's first image, so the first sync (and Flagger's initialisation) has something that runs;
        # gitops-ci's first build (the seeding push starts it) replaces it. kaniko runs as root, without
        # privileges, as in the pipeline.
        build = k8s.core.v1.ContainerArgs(
            name="bootstrap-image", image=cfg.versions.image_kaniko,
            args=[f"--context=tar:///seed/{EXAMPLE_APP}.tar.gz", "--dockerfile=Dockerfile",
                  f"--destination={REGISTRY_HOST}/{GIT_OWNER}/{EXAMPLE_APP}:bootstrap",
                  f"--insecure-registry={REGISTRY_HOST}"],
            volume_mounts=[seed_mount], termination_message_policy=LOG_TAIL)
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            # The provider's own Job await: it fails as soon as the Job's Failed condition says
            # BackoffLimitExceeded or DeadlineExceeded, with the pods' container errors as sub-errors
            # (pulumi-kubernetes provider/pkg/await/job.go, await/checker/job/check.go); a
            # `pulumi.com/waitFor` annotation would replace it with a wait for Complete alone, which only
            # times out. Two retries (10 s, 20 s back-off) and a deadline under the await's timeout, so
            # a broken seeding is reported in minutes with the Job's reason.
            metadata=meta(f"gitea-seed-{suffix}", {"pulumi.com/timeoutSeconds": str(SEED_TIMEOUT + 60)}),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=SEED_RETRIES, active_deadline_seconds=SEED_TIMEOUT,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="Never", automount_service_account_token=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")),
                        init_containers=init if args.registry is not None else init[:1],
                        containers=[build] if args.registry is not None else [init[1]],
                        volumes=[k8s.core.v1.VolumeArgs(name="seed", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                            name=f"gitea-seed-{suffix}"))]))),
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(
                depends_on=[content, secret, args.git.deployment, args.git.service,
                            *([args.registry] if args.registry is not None else []), *args.after],
                delete_before_replace=True)))
        self.job_name = f"gitea-seed-{suffix}"
        self.register_outputs({"job": self.job_name})
