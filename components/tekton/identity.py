"""Who the pipelines run as: the CI namespace, `pipeline-bot` with its annotated credential Secrets, the
read-only `gitops-ci-watcher` of the wait task, the EventListener's ServiceAccount, and the webhook
secrets. Nothing is bound to cluster-admin: the bot gets `edit` in the CI namespace only and no API
token, the watcher may only read Argo CD Applications (and the canary apps' Canaries, Deployments and events),
the listener reads Triggers objects and creates PipelineRuns (no Secrets, no impersonation).
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import PlatformConfig, repo_host
from components.models import LABELS, pod_security
from components.registry import docker_config_json, registry_url

PIPELINE_BOT = "pipeline-bot"
LISTENER_ACCOUNT = "gitops-ci-listener"
GIT_SECRET = "pipeline-bot-git"
SSH_SECRET = "pipeline-bot-ssh"
API_TOKEN_SECRET = "pipeline-bot-git-api"
REGISTRY_SECRET = "pipeline-bot-registry"
WEBHOOK_SECRET = "github-webhook"
ARGOCD_WEBHOOK_SECRET = "argocd-webhook"   # a copy of Argo CD's webhook secret, to sign push events
WATCHER = "gitops-ci-watcher"
READ = ("get", "list", "watch")
# (apiGroup, resources, verbs) of the EventListener in its namespace and cluster-wide.
LISTENER_RULES = (
    ("triggers.tekton.dev", ("eventlisteners", "triggers", "triggerbindings", "triggertemplates", "interceptors"), READ),
    ("", ("configmaps",), READ),
    ("tekton.dev", ("pipelineruns",), ("create",)),
    ("", ("events",), ("create", "patch")),
)
LISTENER_CLUSTER_RULES = (
    ("triggers.tekton.dev", ("clustertriggerbindings", "clusterinterceptors"), READ),
)


@dataclass(frozen=True)
class IdentitySecrets:
    git_token: pulumi.Output[str] | None
    registry_password: pulumi.Output[str] | None
    git_ssh_private_key: pulumi.Output[str] | None
    webhook_secret: pulumi.Output[str] | None
    argocd_webhook_secret: pulumi.Output[str] | None   # Argo CD's own (None: its webhook is off)


@dataclass
class Identity:
    namespace: k8s.core.v1.Namespace
    pipeline_bot: k8s.core.v1.ServiceAccount
    listener_account: k8s.core.v1.ServiceAccount
    webhook_secret_value: pulumi.Output[str]
    registry_secret: str | None       # names of the Secrets that exist (None: not configured)
    api_token_secret: str | None      # Secret with a `password` key usable as a GitHub API token
    argocd_webhook_secret: str | None  # Secret with Argo CD's webhook secret under `secret`
    resources: list[pulumi.Resource]  # every object in the CI namespace, for dependents to wait on


def create_identity(name: str, cfg: PlatformConfig, secrets: IdentitySecrets, child: pulumi.ResourceOptions,
                    argocd_namespace: str = "argocd", argocd_ready: list[pulumi.Resource] | None = None,
                    ) -> Identity:
    argocd_ready = list(argocd_ready or [])
    ns = cfg.tekton.namespace
    labels = {**LABELS, "app.kubernetes.io/part-of": "gitops-ci"}
    namespace = k8s.core.v1.Namespace(
        # `baseline`: the builds' kaniko step runs as root (it unpacks image layers owned by root), which
        # `restricted` forbids; every other task step and the relay pass it.
        f"{name}-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(name=ns, labels={**labels, **pod_security("baseline")}),
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=cfg.protected)))
    in_ns = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[namespace]))

    def meta(object_name: str, annotations: dict[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=ns, labels=labels, annotations=annotations)

    created: list[pulumi.Resource] = []
    bot_secrets: list[str] = []
    api_token_secret = None
    host = repo_host(cfg.config_repo.url)

    if cfg.tekton.git_auth == "token":
        if secrets.git_token is not None:
            # Tekton turns this into ~/.git-credentials for every step run as pipeline-bot.
            # The annotation is the URL prefix git matches credentials by: scheme, host and port (plain http
            # only for a Git server inside the cluster, such as the embedded one).
            url = cfg.config_repo.url
            origin = (url.split("/", 3)[0] + "//" + url.split("/", 3)[2]) if url.startswith("http://") \
                else f"https://{host}"
            created.append(k8s.core.v1.Secret(
                f"{name}-git", metadata=meta(GIT_SECRET, {"tekton.dev/git-0": origin}),
                type="kubernetes.io/basic-auth",
                string_data=pulumi.Output.secret(secrets.git_token).apply(
                    lambda token: {"username": cfg.config_repo.username, "password": token}),
                opts=in_ns))
            bot_secrets.append(GIT_SECRET)
            api_token_secret = GIT_SECRET
        else:
            pulumi.log.warn("gitops-platform:gitToken is not set: gitops-ci and stage-release cannot push to "
                            f"{cfg.config_repo.url} (set it with `pulumi config set --secret gitToken ...`)")
    else:
        if secrets.git_ssh_private_key is not None:
            known_hosts = cfg.tekton.ssh_known_hosts
            # Tekton writes ~/.ssh from this Secret; known_hosts pins the host keys (never skipped).
            created.append(k8s.core.v1.Secret(
                f"{name}-ssh", metadata=meta(SSH_SECRET, {"tekton.dev/git-0": host}),
                type="kubernetes.io/ssh-auth",
                string_data=pulumi.Output.secret(secrets.git_ssh_private_key).apply(
                    lambda key: {"ssh-privatekey": key if key.endswith("\n") else key + "\n",
                                 "known_hosts": known_hosts}),
                opts=in_ns))
            bot_secrets.append(SSH_SECRET)
        else:
            pulumi.log.warn("gitops-platform:gitSshPrivateKey is not set (tekton.gitAuth: ssh): the pipelines "
                            f"cannot push to {cfg.config_repo.url}")
        if secrets.git_token is not None:
            # Pull requests go through the GitHub API, which a deploy key cannot call.
            created.append(k8s.core.v1.Secret(
                f"{name}-git-api", metadata=meta(API_TOKEN_SECRET), type="Opaque",
                string_data=pulumi.Output.secret(secrets.git_token).apply(lambda token: {"password": token}),
                opts=in_ns))
            api_token_secret = API_TOKEN_SECRET

    registry_secret = None
    registry = cfg.registry
    if secrets.registry_password is not None and registry.username:
        created.append(k8s.core.v1.Secret(
            f"{name}-registry", metadata=meta(REGISTRY_SECRET, {"tekton.dev/docker-0": registry_url(registry.server)}),
            type="kubernetes.io/dockerconfigjson",
            string_data={".dockerconfigjson": pulumi.Output.secret(secrets.registry_password).apply(
                lambda password: docker_config_json(registry.server, registry.username, password))},
            opts=in_ns))
        bot_secrets.append(REGISTRY_SECRET)
        registry_secret = REGISTRY_SECRET
    elif not cfg.embedded_registry:   # the in-cluster registry takes pushes without credentials
        pulumi.log.warn("gitops-platform:registryPassword and registry.username are both needed for the pipelines "
                        f"to push images to {registry.server}; without them image pushes are unauthenticated")

    argocd_webhook_secret = None
    if secrets.argocd_webhook_secret is not None:
        created.append(k8s.core.v1.Secret(
            f"{name}-argocd-webhook", metadata=meta(ARGOCD_WEBHOOK_SECRET), type="Opaque",
            string_data=pulumi.Output.secret(secrets.argocd_webhook_secret).apply(lambda value: {"secret": value}),
            opts=in_ns))
        argocd_webhook_secret = ARGOCD_WEBHOOK_SECRET

    if secrets.webhook_secret is not None:
        webhook_value = pulumi.Output.secret(secrets.webhook_secret)
    else:
        generated = random.RandomPassword(f"{name}-trigger-secret", length=40, special=False,
                                          opts=pulumi.ResourceOptions(parent=child.parent))
        webhook_value = pulumi.Output.secret(generated.result)
    created.append(k8s.core.v1.Secret(
        f"{name}-webhook", metadata=meta(WEBHOOK_SECRET), type="Opaque",
        string_data=webhook_value.apply(lambda value: {"secretToken": value}), opts=in_ns))

    # pipeline-bot's pods never call the Kubernetes API, so they get no token; `edit` in the CI namespace
    # is all the chapter-five identity needs (and less than it had).
    pipeline_bot = k8s.core.v1.ServiceAccount(
        f"{name}-pipeline-bot", metadata=meta(PIPELINE_BOT), automount_service_account_token=False,
        secrets=[k8s.core.v1.ObjectReferenceArgs(name=s) for s in bot_secrets], opts=in_ns)
    created.append(pipeline_bot)
    created.append(k8s.rbac.v1.RoleBinding(
        f"{name}-pipeline-bot-edit", metadata=meta(f"{PIPELINE_BOT}-edit"),
        role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="edit"),
        subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=PIPELINE_BOT, namespace=ns)],
        opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[namespace, pipeline_bot]))))

    # The wait task's identity: it reads Argo CD Applications (and nothing else) with a token projected
    # into that task only; the ServiceAccount itself mounts none.
    watcher = k8s.core.v1.ServiceAccount(f"{name}-watcher", metadata=meta(WATCHER),
                                         automount_service_account_token=False, opts=in_ns)
    created.append(watcher)
    watcher_role = k8s.rbac.v1.Role(
        f"{name}-watcher-applications",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{ns}-{WATCHER}", namespace=argocd_namespace, labels=labels),
        rules=[k8s.rbac.v1.PolicyRuleArgs(api_groups=["argoproj.io"], resources=["applications"],
                                          verbs=["get", "list", "watch"])],
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=argocd_ready)))
    created.append(watcher_role)
    created.append(k8s.rbac.v1.RoleBinding(
        f"{name}-watcher-applications-binding",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{ns}-{WATCHER}", namespace=argocd_namespace, labels=labels),
        role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=f"{ns}-{WATCHER}"),
        subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=WATCHER, namespace=ns)],
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[*argocd_ready, watcher_role,
                                                                                    watcher]))))

    # (For canary apps it also reads their Canary, its Deployments and Flagger's events: Flagger's
    # canary-reader RoleBinding in each canary namespace names it.)

    # The EventListener pod reads Triggers objects and creates PipelineRuns. Its own roles, not Triggers'
    # tekton-triggers-eventlistener-(cluster)roles: those also let it read every Secret in the cluster and
    # impersonate any ServiceAccount of its namespace, and it needs neither (tektoncd/triggers@v0.37.0):
    # the GitHub interceptor's secret is read by the core interceptors' own ServiceAccount
    # (pkg/interceptors/secret_getter.go, cmd/interceptors), and the sink impersonates only a Trigger's
    # spec.serviceAccountName, which ours never set (pkg/sink/sink.go CreateResources). The sink's informers
    # watch the Triggers objects and ConfigMaps of its namespace (cmd/eventlistenersink) and, cluster-wide,
    # only ClusterInterceptors and ClusterTriggerBindings (pkg/adapter/adapter.go).
    listener = k8s.core.v1.ServiceAccount(f"{name}-listener", metadata=meta(LISTENER_ACCOUNT), opts=in_ns)
    created.append(listener)
    subjects = [k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=LISTENER_ACCOUNT, namespace=ns)]
    after_listener = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[namespace, listener]))
    role = k8s.rbac.v1.Role(
        f"{name}-listener-role", metadata=meta(LISTENER_ACCOUNT),
        rules=[k8s.rbac.v1.PolicyRuleArgs(api_groups=[g], resources=list(r), verbs=list(v))
               for g, r, v in LISTENER_RULES], opts=in_ns)
    created.append(role)
    created.append(k8s.rbac.v1.RoleBinding(
        f"{name}-listener-roles", metadata=meta(LISTENER_ACCOUNT),
        role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=LISTENER_ACCOUNT),
        subjects=subjects,
        opts=pulumi.ResourceOptions.merge(after_listener, pulumi.ResourceOptions(depends_on=[role]))))
    cluster_role = k8s.rbac.v1.ClusterRole(
        f"{name}-listener-clusterrole", metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{ns}-{LISTENER_ACCOUNT}",
                                                                            labels=labels),
        rules=[k8s.rbac.v1.PolicyRuleArgs(api_groups=[g], resources=list(r), verbs=list(v))
               for g, r, v in LISTENER_CLUSTER_RULES], opts=child)
    created.append(cluster_role)
    created.append(k8s.rbac.v1.ClusterRoleBinding(
        f"{name}-listener-clusterroles",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{ns}-{LISTENER_ACCOUNT}", labels=labels),
        role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                                         name=f"{ns}-{LISTENER_ACCOUNT}"),
        subjects=subjects,
        opts=pulumi.ResourceOptions.merge(after_listener, pulumi.ResourceOptions(depends_on=[cluster_role]))))

    return Identity(namespace=namespace, pipeline_bot=pipeline_bot, listener_account=listener,
                    webhook_secret_value=webhook_value, registry_secret=registry_secret,
                    api_token_secret=api_token_secret, argocd_webhook_secret=argocd_webhook_secret,
                    resources=created)
