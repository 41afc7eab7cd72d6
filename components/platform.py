"""GitOpsPlatform: the top-level component wiring every concern onto one cluster provider."""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import endpoints
from components.applications import ArgoApplications, ArgoApplicationsArgs
from components.argocd import ArgoCD, ArgoCDArgs
from components.cluster import ClusterArgs, NodePorts, create_cluster
from components.config import PlatformConfig
from components.config.embedded import REGISTRY_CLUSTER_IP, REGISTRY_HOST
from components.config.secrets import PlatformSecrets
from components.embedded import (
    EmbeddedGitServer,
    GitServerArgs,
    InClusterRegistry,
    RegistryArgs,
    Seed,
    SeedArgs,
)
from components.flagger import Flagger, FlaggerArgs
from components.flux import FluxImageAutomation, FluxImageAutomationArgs
from components.gateway import CONTROLLER_NAMESPACE as GATEWAY_CONTROLLER_NAMESPACE
from components.gateway import ENVOY_SERVICE, ROUTES_LABEL, ROUTES_VALUE, GatewayArgs, PlatformGateway
from components.gateway import GATEWAY as GATEWAY_NAME
from components.gateway import NAMESPACE as GATEWAY_NAMESPACE
from components.models import LABELS, pod_security
from components.registry import REGISTRY_PULL_SECRET, docker_config_json
from components.tekton import Tekton, TektonArgs
from components.tekton.triggers import listener_url


@dataclass(frozen=True)
class PlatformArgs:
    config: PlatformConfig
    secrets: PlatformSecrets = field(default_factory=PlatformSecrets)


class GitOpsPlatform(pulumi.ComponentResource):
    """The cluster, the app namespaces, Argo CD and its Applications, Tekton CI, Flux image automation
    and Flagger canaries, all on the cluster's provider. `outputs` holds the stack outputs."""

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:index:GitOpsPlatform", name, None, opts)
        cfg = args.config
        self.config = cfg
        self.node_ports = NodePorts()
        protect = cfg.protected
        self.cluster = create_cluster(
            f"{name}-cluster",
            ClusterArgs(config=cfg.cluster, cluster_name=cfg.cluster_name, environment=cfg.environment,
                        node_ports=self.node_ports, kind_node_image=cfg.versions.kind_node_image,
                        kind_version=cfg.versions.kind_version,
                        gateway_host_port=cfg.gateway.host_port if cfg.installs_envoy_gateway else None,
                        gateway_https_host_port=(cfg.gateway.https_host_port
                                                 if cfg.installs_envoy_gateway and cfg.tls_enabled else None),
                        git_host_port=cfg.git_server.host_port if cfg.embedded_git else None,
                        registry=(REGISTRY_HOST, REGISTRY_CLUSTER_IP) if cfg.embedded_registry else None),
            pulumi.ResourceOptions(parent=self, protect=protect))
        self.provider = self.cluster.provider
        on_cluster = pulumi.ResourceOptions(parent=self, provider=self.provider)

        # App namespaces are created here, not by Argo CD's CreateNamespace, so RBAC, Canaries and
        # Flux objects can depend on them and they are deleted last.
        # With the Gateway on, app namespaces may attach routes to it (its listeners select this label).
        ns_labels = {**LABELS, "gitops-platform/environment": cfg.environment, **pod_security(cfg.pod_security),
                     **({ROUTES_LABEL: ROUTES_VALUE} if cfg.gateway_enabled else {})}
        self.namespaces: dict[str, k8s.core.v1.Namespace] = {
            ns: k8s.core.v1.Namespace(
                f"{name}-ns-{ns}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=ns, labels=ns_labels),
                opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(protect=protect)))
            for ns in cfg.app_namespaces
        }

        # A private registry: the pull Secret in every app namespace (one object per namespace, not per app).
        if cfg.registry.pull_secret and args.secrets.registry_password is not None:
            dockerconfig = pulumi.Output.secret(args.secrets.registry_password).apply(
                lambda password: docker_config_json(cfg.registry.server, cfg.registry.username, password))
            for ns, namespace in self.namespaces.items():
                k8s.core.v1.Secret(
                    f"{name}-pull-secret-{ns}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=REGISTRY_PULL_SECRET, namespace=ns, labels=dict(LABELS)),
                    type="kubernetes.io/dockerconfigjson", string_data={".dockerconfigjson": dockerconfig},
                    opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[namespace])))

        self.outputs: dict[str, pulumi.Input] = {
            "kubeconfig": self.cluster.kubeconfig,
            "clusterName": self.cluster.cluster_name,
            "environment": cfg.environment,
            "namespaces": cfg.app_namespaces,
            **({"registryPullSecret": REGISTRY_PULL_SECRET} if cfg.registry.pull_secret else {}),
        }

        on_kind = cfg.cluster.provider == "kind"
        secrets = args.secrets
        self.registry = self.git = None
        if cfg.embedded_registry:
            self.registry = InClusterRegistry(f"{name}-registry", RegistryArgs(config=cfg, provider=self.provider),
                                              pulumi.ResourceOptions(parent=self))
            self.outputs["registry"] = self.registry.host
        if cfg.embedded_git:
            self.git = EmbeddedGitServer(f"{name}-git", GitServerArgs(config=cfg, provider=self.provider,
                                                                      on_kind=on_kind),
                                         pulumi.ResourceOptions(parent=self))
            # Its admin's credentials are the pipelines' and Argo CD's (basic auth over HTTP inside the cluster).
            secrets = PlatformSecrets(**{**secrets.__dict__, "git_token": self.git.password})
            self.outputs.update({
                "gitServerUrl": self.git.web_url, "gitServerUser": self.git.username,
                "gitServerPassword": self.git.password,
                "cloneUrls": {repo: f"{self.git.web_url}/{self.git.username}/{repo}.git"
                              for repo in ("config", *[a.name for a in cfg.apps if a.source_repo])},
            })
        self.gateway = None
        if cfg.gateway_enabled:
            self.gateway = PlatformGateway(
                f"{name}-gateway", GatewayArgs(config=cfg, provider=self.provider, node_port=self.node_ports.gateway,
                                               https_node_port=self.node_ports.gateway_https),
                pulumi.ResourceOptions(parent=self))
            self.outputs["gateway"] = self.gateway.name
            if not cfg.installs_envoy_gateway:
                self.outputs["gatewayUrl"] = (f"kubectl -n {GATEWAY_NAMESPACE} get gateway {GATEWAY_NAME} "
                                              "-o jsonpath='{.status.addresses}'")
            elif on_kind:
                self.outputs["gatewayUrl"] = f"http://127.0.0.1:{cfg.gateway.host_port}"
            else:
                self.outputs["gatewayUrl"] = (f"kubectl -n {GATEWAY_CONTROLLER_NAMESPACE} get service {ENVOY_SERVICE} "
                                              "-o jsonpath='{.status.loadBalancer.ingress}'")
        self.argocd = ArgoCD(
            f"{name}-argocd",
            ArgoCDArgs(argocd=cfg.argocd, versions=cfg.versions, provider=self.provider, on_kind=on_kind,
                       node_port=self.node_ports.argocd,
                       https_node_port=self.node_ports.argocd_https, host_port=cfg.cluster.kind.argocd_host_port,
                       protect=protect, webhook_secret=secrets.argocd_webhook_secret,
                       public_url=endpoints.argocd_public_url(cfg)),
            pulumi.ResourceOptions(parent=self))
        self.outputs["argocdUrl"] = self.argocd.url
        self.outputs["argocdAdminUser"] = self.argocd.admin_user
        self.outputs["argocdAdminPassword"] = self.argocd.admin_password
        if self.argocd.port_forward is not None:
            self.outputs["argocdPortForward"] = self.argocd.port_forward
        if self.argocd.webhook_url is not None:
            self.outputs["argocdWebhookUrl"] = self.argocd.webhook_url
        if self.argocd.webhook_secret is not None:
            self.outputs["argocdWebhookSecret"] = self.argocd.webhook_secret

        if cfg.tekton_enabled:
            self.tekton = Tekton(
                f"{name}-tekton",
                TektonArgs(config=cfg, git_token=secrets.git_token,
                           registry_password=secrets.registry_password,
                           git_ssh_private_key=secrets.git_ssh_private_key,
                           webhook_secret=secrets.tekton_webhook_secret,
                           argocd_webhook_secret=self.argocd.webhook_secret,
                           argocd_webhook_url=self.argocd.in_cluster_webhook_url,
                           argocd_namespace=self.argocd.namespace,
                           argocd_ready=(self.argocd.namespace_resource,),
                           dashboard_node_port=self.node_ports.dashboard if on_kind else None,
                           dashboard_host_port=cfg.cluster.kind.dashboard_host_port if on_kind else None),
                on_cluster)
            self.outputs["tektonDashboardUrl"] = self.tekton.dashboard_url
            # A URL only where something can deliver to it: the public one, else (kind) the in-cluster one
            # for a Git server in the cluster; `webhooks` says what to register where.
            public = endpoints.tekton_public_url(cfg)
            if public or on_kind:
                self.outputs["tektonWebhookUrl"] = public or self.tekton.webhook_url
            self.outputs["tektonWebhookSecret"] = self.tekton.webhook_secret

        if cfg.flux_enabled:
            self.flux = FluxImageAutomation(
                f"{name}-flux",
                FluxImageAutomationArgs(config=cfg, provider=self.provider, app_namespaces=self.namespaces,
                                        git_token=secrets.git_token,
                                        git_ssh_private_key=secrets.git_ssh_private_key,
                                        registry_password=secrets.registry_password,
                                        webhook_token=secrets.flux_webhook_token,
                                        public_base=endpoints.flux_public_base(cfg)),
                pulumi.ResourceOptions(parent=self))
            if endpoints.flux_public_base(cfg):
                self.outputs["fluxWebhookUrl"] = self.flux.webhook_url
            self.outputs["fluxWebhookToken"] = self.flux.webhook_token
            self.outputs["fluxWebhookPathCommand"] = self.flux.webhook_path_command
            self.outputs["fluxImagePolicies"] = self.flux.policies

        seeded: tuple[pulumi.Resource, ...] = ()
        if self.git is not None:
            self.seed = Seed(f"{name}-seed", SeedArgs(
                config=cfg, provider=self.provider, git=self.git, registry=self.registry.service if self.registry else None,
                tekton_secret=self.tekton.webhook_secret if cfg.tekton_enabled else None,
                argocd_secret=self.argocd.webhook_secret,
                tekton_listener=listener_url(cfg.tekton.namespace) if cfg.tekton_enabled else None,
                after=(self.argocd.release, *([self.tekton] if cfg.tekton_enabled else []))),
                pulumi.ResourceOptions(parent=self))
            seeded = (self.seed.job,)
            self.outputs["gitServerSeed"] = self.seed.job_name
        self.argocd_apps = ArgoApplications(
            f"{name}-argocd-apps",
            ArgoApplicationsArgs(config=cfg, provider=self.provider, install=self.argocd.release,
                                 argocd_namespace=self.argocd.namespace_resource, namespaces=self.namespaces,
                                 service_accounts=self.argocd.service_accounts,
                                 namespace=self.argocd.namespace, git_token=secrets.git_token,
                                 git_ssh_private_key=secrets.git_ssh_private_key,
                                 after=seeded),
            pulumi.ResourceOptions(parent=self))

        if cfg.flagger_enabled:
            self.flagger = Flagger(
                f"{name}-flagger",
                FlaggerArgs(config=cfg, provider=self.provider, app_namespaces=self.namespaces,
                            gateway=self.gateway.gateway if self.gateway else None,
                            applications=self.argocd_apps.applications),
                pulumi.ResourceOptions(parent=self))
            self.outputs["flaggerCanaries"] = self.flagger.canary_names
            self.outputs["flaggerPrometheus"] = self.flagger.prometheus_address
            if self.gateway is not None and cfg.mesh_provider.startswith("gatewayapi"):
                port = f":{cfg.gateway.host_port}" if on_kind else ""
                self.outputs["canaryUrls"] = {app.name: f"http://{cfg.host_of(app)}{port}/"
                                              for app in cfg.apps if app.has_canary and not app.canary.gateway}

        serving = {self.argocd.namespace: self.argocd.namespace_resource}
        if cfg.tekton_enabled:
            serving[cfg.tekton.namespace] = self.tekton.identity.namespace
        if cfg.flux_enabled:
            serving["flux-system"] = self.flux.install.namespace
        self.endpoints = endpoints.PlatformEndpoints(
            f"{name}-endpoints",
            endpoints.EndpointsArgs(config=cfg, provider=self.provider,
                                    gateway=self.gateway.gateway if self.gateway else None, namespaces=serving,
                                    argocd_namespace=self.argocd.namespace),
            pulumi.ResourceOptions(parent=self))
        self.outputs["webhooks"] = endpoints.webhooks_output(cfg, cfg.argocd.webhook, cfg.argocd.external_url)
        self.outputs["nextSteps"] = next_steps(cfg, self.outputs)

        self.register_outputs(self.outputs)


def next_steps(cfg: PlatformConfig, outputs: dict[str, pulumi.Input]) -> pulumi.Output[list[str]]:
    """What to open or run once `pulumi up` is done (the `nextSteps` stack output), in order. Only
    non-secret outputs go in; passwords are named by the command that shows them."""
    ns = cfg.tekton.namespace
    plain = {k: outputs[k] for k in ("argocdUrl", "tektonDashboardUrl", "gitServerUrl") if k in outputs}

    def steps(values: dict) -> list[str]:
        lines = []
        if "gitServerUrl" in values:
            lines.append(f"Git server: {values['gitServerUrl']} (user {outputs['gitServerUser']}; "
                         "pulumi stack output --show-secrets gitServerPassword)")
        if cfg.tekton_enabled:
            lines.append(f"Builds: {values.get('tektonDashboardUrl')}; the first PipelineRun may still be running: "
                         f"kubectl -n {ns} get pipelineruns -w (tkn pipelinerun logs -f -n {ns} --last)")
        forward = f" after {outputs['argocdPortForward']}" if outputs.get("argocdPortForward") else ""
        lines.append(f"Argo CD: {values['argocdUrl']}{forward} (user admin; pulumi stack output --show-secrets "
                     "argocdAdminPassword)")
        if "canaryUrls" in outputs:
            lines.append("Apps: " + ", ".join(f"{app} {url}" for app, url in sorted(outputs["canaryUrls"].items())))
        if not cfg.embedded_git:
            lines.append("Register the webhooks: pulumi stack output webhooks")
        lines.append("Tear down: pulumi destroy" + (" (protected resources first: pulumi state unprotect --all)"
                                                    if cfg.protected else ""))
        return lines

    return pulumi.Output.all(**plain).apply(steps)
