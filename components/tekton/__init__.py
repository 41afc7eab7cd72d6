"""Tekton CI for the platform: pinned installs, pipeline identity, Tasks, the gitops-ci and stage-release
Pipelines, and the GitHub push triggers."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import PlatformConfig
from components.models import custom_resource
from components.models.tekton import Task
from components.tekton import identity as ident
from components.tekton import pipelines, references, triggers
from components.tekton.install import DASHBOARD_PORT, TEKTON_NAMESPACE, install


@dataclass(frozen=True)
class TektonArgs:
    config: PlatformConfig
    git_token: pulumi.Output[str] | None = None
    registry_password: pulumi.Output[str] | None = None
    git_ssh_private_key: pulumi.Output[str] | None = None
    webhook_secret: pulumi.Output[str] | None = None   # generated when None
    argocd_webhook_secret: pulumi.Output[str] | None = None  # Argo CD's: the pipeline signs push events with it
    argocd_webhook_url: str = ""                      # argocd-server's /api/webhook inside the cluster
    argocd_namespace: str = "argocd"
    argocd_ready: tuple[pulumi.Resource, ...] = ()    # the Argo CD namespace (the watcher's Role goes there)
    dashboard_node_port: int | None = None             # kind: expose the dashboard on this NodePort
    dashboard_host_port: int | None = None             # kind: the host port mapped to that NodePort


class TektonError(ValueError):
    """The Tekton objects the platform built reference something that does not exist."""


class Tekton(pulumi.ComponentResource):
    """Installs Tekton Pipelines, Triggers (+ interceptors) and Dashboard from pinned release manifests, the
    CI namespace with `pipeline-bot` and its credentials, the platform's Tasks, one parameterised
    `gitops-ci` Pipeline and one `stage-release` Pipeline, and a GitHub push EventListener with a trigger
    per app. Outputs: `dashboard_url`, `webhook_url` (in-cluster EventListener URL), `webhook_secret`
    (secret) and `objects` (the Tekton manifests, for checks)."""

    def __init__(self, name: str, args: TektonArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:tekton:Tekton", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        self.installs = install(name, cfg.versions, args.dashboard_node_port, child)
        self.identity = ident.create_identity(name, cfg, ident.IdentitySecrets(
            git_token=args.git_token, registry_password=args.registry_password,
            git_ssh_private_key=args.git_ssh_private_key, webhook_secret=args.webhook_secret,
            argocd_webhook_secret=args.argocd_webhook_secret), child,
            argocd_namespace=args.argocd_namespace, argocd_ready=list(args.argocd_ready))
        identity = self.identity

        options = pipelines.PipelineOptions(
            notify_argocd=identity.argocd_webhook_secret is not None, argocd_webhook_url=args.argocd_webhook_url,
            pull_request=identity.api_token_secret is not None)
        tasks: list[Task] = pipelines.platform_tasks(cfg, options, identity.api_token_secret,
                                                     identity.argocd_webhook_secret)
        names = triggers.TriggerNames(pipeline_bot=ident.PIPELINE_BOT, watcher=ident.WATCHER,
                                      listener_account=ident.LISTENER_ACCOUNT,
                                      webhook_secret=ident.WEBHOOK_SECRET, registry_secret=identity.registry_secret)
        pipeline_objects = [pipelines.gitops_ci(cfg, options), pipelines.stage_release(cfg, options)]
        trigger_objects = [triggers.binding(cfg.tekton.namespace), triggers.template(cfg, names)]
        listener = triggers.event_listener(cfg, names)

        self.objects = [o.manifest() for o in (*tasks, *pipeline_objects, *trigger_objects, listener)]
        broken = references.problems(self.objects)
        if broken:  # a bug in the platform, never the user's config: fail before applying anything
            raise TektonError("; ".join(broken))

        # Pipelines CRDs come with the pipelines release, Triggers CRDs with triggers; the EventListener
        # also needs the github/cel ClusterInterceptors. The namespace and the Secrets/ServiceAccounts the
        # objects name come first, and go last on destroy.
        base = [identity.namespace, *identity.resources]
        pipeline_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.installs.pipelines, *base])
        trigger_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.installs.pipelines,
                                                                       self.installs.triggers, *base])
        for obj in (*tasks, *pipeline_objects):
            custom_resource(f"{name}-{obj.kind.lower()}-{obj.metadata.name}", obj, pipeline_opts)
        for obj in trigger_objects:
            custom_resource(f"{name}-{obj.kind.lower()}-{obj.metadata.name}", obj, trigger_opts)
        custom_resource(f"{name}-eventlistener-{listener.metadata.name}", listener, pulumi.ResourceOptions(
            parent=self, depends_on=[self.installs.pipelines, self.installs.triggers, self.installs.interceptors,
                                     *base]))

        ns = cfg.tekton.namespace
        if args.dashboard_host_port is not None:
            self.dashboard_url: pulumi.Output[str] = pulumi.Output.from_input(
                f"http://localhost:{args.dashboard_host_port}")
        else:
            self.dashboard_url = pulumi.Output.from_input(
                f"kubectl -n {TEKTON_NAMESPACE} port-forward svc/tekton-dashboard {DASHBOARD_PORT}:{DASHBOARD_PORT}"
                f"  # then open http://localhost:{DASHBOARD_PORT}")
        self.webhook_url = pulumi.Output.from_input(triggers.listener_url(ns))
        self.webhook_secret = pulumi.Output.secret(identity.webhook_secret_value)
        self.register_outputs({"dashboardUrl": self.dashboard_url, "webhookUrl": self.webhook_url,
                               "webhookSecret": self.webhook_secret})
