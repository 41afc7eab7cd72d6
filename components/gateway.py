"""The platform Gateway: Envoy Gateway and the one Gateway API Gateway that canaries (and later the
webhooks and UIs) are served through.

Why Envoy Gateway: one controller Deployment and one Envoy Deployment per Gateway (about 160m CPU and
420Mi on kind as configured here), built against Gateway API v1.6.1 and supported on Kubernetes
1.33-1.36 (envoyproxy/gateway@v1.9.0:site/content/en/news/releases/matrix.md), and Flagger's
`gatewayapi:v1` router drives it through plain HTTPRoute weights. Istio (what Flagger's own Gateway API
e2e uses) needs istiod plus a gateway for the same result; ingress-nginx, which Flagger's `nginx`
provider needs, is retired upstream.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.config import PlatformConfig
from components.models import HELM_TIMEOUT, LABELS, ObjectMeta, custom_resource, pod_security
from components.models.certmanager import (
    AcmeIssuer,
    AcmeSolver,
    Certificate,
    CertificateSpec,
    ClusterIssuer,
    GatewayHTTPRouteSolver,
    Http01Solver,
    IssuerRef,
    IssuerSpec,
    SecretKeySelector,
    SelfSignedIssuer,
)
from components.models.gateway import (
    AllowedRoutes,
    EnvoyContainer,
    EnvoyDeployment,
    EnvoyKubernetesProvider,
    EnvoyProxy,
    EnvoyProxyProvider,
    EnvoyProxySpec,
    EnvoyService,
    Gateway,
    GatewayClass,
    GatewayClassSpec,
    GatewayInfrastructure,
    GatewaySpec,
    KubernetesPatch,
    LabelSelector,
    LabelSelectorRequirement,
    Listener,
    ListenerTLS,
    ParametersReference,
    ParentReference,
    ResourceRequirements,
    RouteNamespaces,
    SecretObjectReference,
)
from components.versions import Versions, split_image

NAMESPACE = "gateway-system"                  # the Gateway and its EnvoyProxy
CONTROLLER_NAMESPACE = "envoy-gateway-system"  # Envoy Gateway, and (ControllerNamespace mode) the Envoy pods
GATEWAY = "gitops-gateway"
GATEWAY_CLASS = "gitops-platform"
ENVOY_PROXY = "gitops-gateway"
# EnvoyProxy envoyService.name fixes the Service's name (else envoy-<ns>-<gw>-<hash>); it lives in the
# controller namespace (envoyproxy/gateway@v1.9.0:api/v1alpha1/shared_types.go, translator.go).
ENVOY_SERVICE = "gitops-gateway-envoy"
CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"   # charts/gateway-helm/values.tmpl.yaml
HTTP_LISTENER = "http"
HTTP_PORT = 80
HTTPS_PORT = 443
# The platform's own endpoints: one listener per hostname, HTTPS when TLS is on (else HTTP on port 80,
# distinct from the `http` listener by hostname), open only to the namespaces serving them.
ARGOCD_LISTENER = "argocd"
HOOKS_LISTENER = "hooks"
TLS_SECRET = "gitops-gateway-tls"   # the certificate of both (cert-manager's, or gateway.tls.secretName)
# Routes attach only from namespaces with this label (the platform labels the app namespaces, and its
# own that serve routes); a listener's default is its own namespace only (gateway-api@v1.6.1
# apis/v1/gateway_types.go), and `All` would let any namespace take any hostname.
ROUTES_LABEL = "gitops-platform/gateway-routes"
ROUTES_VALUE = "allowed"
CERT_MANAGER_NAMESPACE = "cert-manager"
ACME_ACCOUNT_KEY = "gitops-platform-acme-account"
CRDS_RELEASE = "eg-crds"
RELEASE = "eg"

# Requests of the pods the Gateway adds (for the kind capacity sum in docs/flux-flagger.md).
CONTROLLER_REQUESTS = {"cpu": "100m", "memory": "256Mi"}     # the chart's defaults (values.tmpl.yaml)
# What `pulumi destroy` cannot remove (besides the CRDs the charts keep): gateway-helm's topology-injector
# MutatingWebhookConfiguration is a Helm pre-install hook without a delete policy
# (envoyproxy/gateway@v1.9.0:charts/gateway-helm/templates/envoy-proxy-topology-injector-webhook.yaml) and Helm
# never deletes hooks on uninstall (helm/helm@v3.18.6:pkg/action/uninstall.go deletes the release manifest only;
# upstream's fix, envoyproxy/gateway#6489, was closed unmerged). It must outlive its hook phase (it is the
# webhook), so no delete policy can help. Harmless once the controller is gone (failurePolicy Ignore, it matches
# pods/binding in the controller namespace only); the next install replaces it (before-hook-creation, Helm's
# default). README "Tearing down" gives the one kubectl command; tests/cluster asserts it is all that is left.
LEFT_AFTER_DESTROY = (("admissionregistration.k8s.io", "MutatingWebhookConfiguration", "",
                       f"envoy-gateway-topology-injector.{CONTROLLER_NAMESPACE}"),)
# certgen's ServiceAccount, Roles and ClusterRoles (write access to Secrets and to MutatingWebhookConfigurations,
# cluster-wide) are hooks without a delete policy too: they would stay after install and after destroy. With
# hook-succeeded Helm deletes them once the whole hook phase succeeded, the certgen Job included
# (helm/helm@v3.18.6:pkg/action/hooks.go execHook: "If all hooks are successful ... deleteHookByPolicy
# HookSucceeded"), and before-hook-creation recreates them for the next upgrade's certgen run.
CERTGEN_RBAC_ANNOTATIONS = {"helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}
KIND_ENVOY_REQUESTS = {"cpu": "50m", "memory": "128Mi"}      # default 100m/512Mi (shared_types.go)
SHUTDOWN_MANAGER_REQUESTS = {"cpu": "10m", "memory": "32Mi"}  # the sidecar EG always adds


def in_cluster_url() -> str:
    """The Gateway's HTTP listener from inside the cluster (what the load tester sends traffic to)."""
    return f"http://{ENVOY_SERVICE}.{CONTROLLER_NAMESPACE}"


def parent_ref(section: str = HTTP_LISTENER) -> ParentReference:
    """A route's reference to a listener of the platform Gateway. Group and kind are written out: Flagger
    compares its gatewayRefs with the route status' parentRefs as they are (pkg/router/gateway_api.go)."""
    return ParentReference(name=GATEWAY, namespace=NAMESPACE, section_name=section)


def service_type(cfg: PlatformConfig) -> str:
    return cfg.gateway.service_type or ("NodePort" if cfg.cluster.provider == "kind" else "LoadBalancer")


def service_annotations(cfg: PlatformConfig) -> dict[str, str] | None:
    annotations = {}
    if cfg.cluster.provider == "eks" and service_type(cfg) == "LoadBalancer":
        # An NLB from the in-tree AWS cloud provider EKS ships (no extra controller; instance targets).
        # With the AWS Load Balancer Controller installed, set serviceAnnotations to its own annotations.
        annotations["service.beta.kubernetes.io/aws-load-balancer-type"] = "nlb"
    annotations.update(cfg.gateway.service_annotations)
    return annotations or None


def envoy_proxy(cfg: PlatformConfig, node_port: int, https_node_port: int = 30443) -> EnvoyProxy:
    """How Envoy Gateway runs this Gateway's Envoy: the Service type per cluster flavour, on kind a fixed
    node port (EnvoyProxy has no nodePort field: a strategic-merge patch keyed by port sets it on the
    generated port-80 entry, internal/utils/merge.go) and externalTrafficPolicy Cluster, so the node port
    of the control-plane node kind maps reaches Envoy on any node."""
    kind = cfg.cluster.provider == "kind"
    kind_service = service_type(cfg)
    patch = None
    if kind_service == "NodePort" and kind:
        # Only ports of listeners that exist: the patch would add a port without a target otherwise.
        ports = [{"port": HTTP_PORT, "nodePort": node_port}]
        if cfg.tls_enabled:
            ports.append({"port": HTTPS_PORT, "nodePort": https_node_port})
        patch = KubernetesPatch(value={"spec": {"ports": ports}})
    resources = ResourceRequirements(requests=KIND_ENVOY_REQUESTS, limits={"memory": "512Mi"}) if kind else None
    return EnvoyProxy(
        metadata=ObjectMeta(name=ENVOY_PROXY, namespace=NAMESPACE, labels=LABELS),
        spec=EnvoyProxySpec(provider=EnvoyProxyProvider(kubernetes=EnvoyKubernetesProvider(
            envoy_deployment=EnvoyDeployment(replicas=1 if kind else 2,
                                             container=EnvoyContainer(image=cfg.versions.chart_image_envoy,
                                                                      resources=resources)),
            envoy_service=EnvoyService(
                name=ENVOY_SERVICE, type=kind_service, annotations=service_annotations(cfg),
                external_traffic_policy="Cluster" if kind_service == "NodePort" else None, patch=patch)))))


def gateway_class() -> GatewayClass:
    return GatewayClass(metadata=ObjectMeta(name=GATEWAY_CLASS, labels=LABELS), spec=GatewayClassSpec(
        controller_name=CONTROLLER_NAME, description="The gitops-platform Gateway (Envoy Gateway)."))


def allowed_routes() -> AllowedRoutes:
    return AllowedRoutes(namespaces=RouteNamespaces(
        from_="Selector", selector=LabelSelector(match_labels={ROUTES_LABEL: ROUTES_VALUE})))


def namespaces_only(*names: str) -> AllowedRoutes:
    """Routes from exactly these namespaces (the API server labels every namespace with its name)."""
    return AllowedRoutes(namespaces=RouteNamespaces(from_="Selector", selector=LabelSelector(match_expressions=[
        LabelSelectorRequirement(key="kubernetes.io/metadata.name", operator="In", values=sorted(set(names)))])))


def tls_secret(cfg: PlatformConfig) -> str:
    return cfg.gateway.tls.secret_name or TLS_SECRET


def endpoint_listeners(cfg: PlatformConfig, argocd_namespace: str = "argocd") -> list[Listener]:
    """argocd.<domain> (the UI and /api/webhook) and hooks.<domain> (Tekton's EventListener, Flux's
    Receiver), when the user set a domain."""
    if cfg.public_domain is None:
        return []
    hook_namespaces = [*([cfg.tekton.namespace] if cfg.tekton_enabled else []),
                       *(["flux-system"] if cfg.flux_enabled else [])]
    tls = ListenerTLS(certificate_refs=[SecretObjectReference(name=tls_secret(cfg))]) if cfg.tls_enabled else None
    protocol, port = ("HTTPS", HTTPS_PORT) if cfg.tls_enabled else ("HTTP", HTTP_PORT)
    listeners = [Listener(name=ARGOCD_LISTENER, protocol=protocol, port=port, hostname=cfg.argocd_host, tls=tls,
                          allowed_routes=namespaces_only(argocd_namespace))]
    if hook_namespaces:
        listeners.append(Listener(name=HOOKS_LISTENER, protocol=protocol, port=port, hostname=cfg.hooks_host,
                                  tls=tls, allowed_routes=namespaces_only(*hook_namespaces)))
    return listeners


def gateway(cfg: PlatformConfig) -> Gateway:
    infrastructure = None
    if cfg.installs_envoy_gateway:
        infrastructure = GatewayInfrastructure(parameters_ref=ParametersReference(
            group="gateway.envoyproxy.io", kind="EnvoyProxy", name=ENVOY_PROXY))
    return Gateway(
        metadata=ObjectMeta(name=GATEWAY, namespace=NAMESPACE, labels=LABELS),
        spec=GatewaySpec(
            gateway_class_name=cfg.gateway.class_name or GATEWAY_CLASS,
            infrastructure=infrastructure,
            listeners=[Listener(name=HTTP_LISTENER, protocol="HTTP", port=HTTP_PORT, allowed_routes=allowed_routes()),
                       *endpoint_listeners(cfg)]))


def crds_values(cfg: PlatformConfig) -> dict:
    """gateway-crds-helm: Gateway API's standard channel (its default is experimental, which strict
    clients and the standard-channel safe-upgrades policy reject) and Envoy Gateway's CRDs."""
    return {"crds": {"gatewayAPI": {"enabled": cfg.gateway.gateway_api_crds, "channel": "standard"},
                     "envoyGateway": {"enabled": True}}}


def controller_values(versions: Versions) -> dict:
    """gateway-helm: the CRDs come from the CRD chart (crds.enabled false, install-helm.md); the
    controller's image from the versions table (global.images.envoyGateway.image: the chart splits it
    at the first ':' after the registry, so a `tag@sha256:` stays whole, templates/_helpers.tpl); certgen's
    RBAC deleted once it ran (CERTGEN_RBAC_ANNOTATIONS)."""
    return {"crds": {"enabled": False},
            "global": {"images": {"envoyGateway": {"image": versions.chart_image_envoy_gateway}}},
            "deployment": {"envoyGateway": {"resources": {"requests": CONTROLLER_REQUESTS,
                                                          "limits": {"memory": "1024Mi"}}}},
            "certgen": {"rbac": {"annotations": CERTGEN_RBAC_ANNOTATIONS}}}


@dataclass(frozen=True)
class GatewayArgs:
    config: PlatformConfig
    provider: k8s.Provider
    node_port: int = 30800     # kind: the Envoy Service's node port, mapped to gateway.hostPort
    https_node_port: int = 30443   # kind with TLS: the node port of the HTTPS listeners


def cert_manager_image(versions: Versions, field: str) -> dict[str, str]:
    """A cert-manager image value: repository, tag and digest apart (templates/_helpers.tpl
    "cert-manager.image" renders repository:tag@digest)."""
    name, tag, digest = split_image(getattr(versions, field))
    return {"repository": name, "tag": tag, **({"digest": digest} if digest else {})}


def cert_manager_values(versions: Versions) -> dict:
    """cert-manager chart (cert-manager/cert-manager@v1.21.1:deploy/charts/cert-manager/values.yaml): its
    CRDs with it (kept on uninstall), Gateway API support on (config.gatewayAPI.enabled; the
    enableGatewayAPI key is deprecated), and small requests (the chart sets none)."""
    small = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}}
    return {"crds": {"enabled": True, "keep": True},
            "config": {"apiVersion": "controller.config.cert-manager.io/v1alpha1",
                       "kind": "ControllerConfiguration", "gatewayAPI": {"enabled": True}},
            "image": cert_manager_image(versions, "chart_image_cert_manager_controller"), "resources": small,
            "webhook": {"resources": small, "image": cert_manager_image(versions, "chart_image_cert_manager_webhook")},
            "cainjector": {"resources": small,
                           "image": cert_manager_image(versions, "chart_image_cert_manager_cainjector")},
            "acmesolver": {"image": cert_manager_image(versions, "chart_image_cert_manager_acmesolver")},
            "startupapicheck": {"image": cert_manager_image(versions, "chart_image_cert_manager_startupapicheck")}}


def cluster_issuer(cfg: PlatformConfig) -> ClusterIssuer:
    """Let's Encrypt (ACME HTTP-01 answered through the Gateway's `http` listener: cert-manager creates
    the solver's HTTPRoute in the Certificate's namespace, pkg/issuer/acme/http/httproute.go), or a
    self-signed issuer."""
    if cfg.tls_issuer == "letsencrypt":
        tls = cfg.gateway.tls
        spec = IssuerSpec(acme=AcmeIssuer(
            server=tls.acme_server, email=tls.email, private_key_secret_ref=SecretKeySelector(name=ACME_ACCOUNT_KEY),
            solvers=[AcmeSolver(http01=Http01Solver(gateway_http_route=GatewayHTTPRouteSolver(
                parent_refs=[parent_ref(HTTP_LISTENER)], service_type="ClusterIP")))]))
    else:
        spec = IssuerSpec(self_signed=SelfSignedIssuer())
    return ClusterIssuer(metadata=ObjectMeta(name=f"gitops-platform-{cfg.tls_issuer}", labels=LABELS), spec=spec)


def certificate(cfg: PlatformConfig) -> Certificate:
    hosts = [listener.hostname for listener in endpoint_listeners(cfg)]
    return Certificate(metadata=ObjectMeta(name=TLS_SECRET, namespace=NAMESPACE, labels=LABELS), spec=CertificateSpec(
        secret_name=TLS_SECRET, dns_names=hosts, issuer_ref=IssuerRef(name=f"gitops-platform-{cfg.tls_issuer}")))


class PlatformGateway(pulumi.ComponentResource):
    """Envoy Gateway (CRD chart rendered and applied server-side, as its install docs do: the
    envoyproxies CRD is too large for a Helm release; the controller chart as a Helm release, which runs
    its certgen hook), the GatewayClass, and the platform's Gateway with its EnvoyProxy; with
    `gateway.className`, only the Gateway on that class. cert-manager and the certificate of the HTTPS
    listeners when TLS comes from an issuer. Outputs: gateway (namespace/name), url (in-cluster), appDomain."""

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:gateway:Gateway", name, None, opts)
        cfg, versions = args.config, args.config.versions
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        protect = pulumi.ResourceOptions(protect=cfg.protected)

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=list(resources)))

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            # Only cert-manager's HTTP-01 solver pods run here (non-root, seccomp RuntimeDefault, no
            # capabilities: cert-manager pkg/issuer/acme/http/pod.go).
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE, labels={**LABELS, ROUTES_LABEL: ROUTES_VALUE,
                                                                        **pod_security("restricted")}),
            opts=pulumi.ResourceOptions.merge(on_cluster, protect))
        gateway_needs: list[pulumi.Resource] = [self.namespace]
        self.crds = self.release = None
        if cfg.installs_envoy_gateway:
            controller_namespace = k8s.core.v1.Namespace(
                f"{name}-controller-namespace",
                # The controller (chart values: deployment.pod/container securityContext), its certgen Job
                # and the Envoy proxies it creates here all pass `restricted` (envoyproxy/gateway@v1.9.0
                # internal/infrastructure/kubernetes/proxy/resource.go: DefaultSecurityContext, UID 65532).
                metadata=k8s.meta.v1.ObjectMetaArgs(name=CONTROLLER_NAMESPACE, labels={
                    **LABELS, **pod_security("restricted")}),
                opts=pulumi.ResourceOptions.merge(on_cluster, protect))
            crds_chart, crds_repo = versions.chart_reference(versions.envoy_gateway_chart_repo,
                                                             versions.envoy_gateway_crds_chart)
            self.crds = k8s.helm.v4.Chart(
                f"{name}-crds", chart=crds_chart, version=versions.envoy_gateway_chart_version,
                repository_opts=versions.repository_opts(crds_repo, k8s.helm.v4),
                namespace=CONTROLLER_NAMESPACE, values=crds_values(cfg),
                opts=pulumi.ResourceOptions.merge(after(controller_namespace), protect))
            chart, repo = versions.chart_reference(versions.envoy_gateway_chart_repo, versions.envoy_gateway_chart)
            self.release = k8s.helm.v3.Release(
                f"{name}-release", name=RELEASE, namespace=CONTROLLER_NAMESPACE, chart=chart,
                timeout=HELM_TIMEOUT,
                version=versions.envoy_gateway_chart_version,
                repository_opts=versions.repository_opts(repo),
                values=controller_values(versions), skip_crds=True, opts=after(controller_namespace, self.crds))
            gateway_class_resource = custom_resource(f"{name}-class", gateway_class(), after(self.crds, self.release))
            envoy = custom_resource(f"{name}-envoy-proxy", envoy_proxy(cfg, args.node_port, args.https_node_port),
                                    after(self.crds, self.namespace))
            gateway_needs += [gateway_class_resource, envoy]
        self.cert_manager = None
        if cfg.installs_cert_manager:
            cm_namespace = k8s.core.v1.Namespace(
                f"{name}-cert-manager-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=CERT_MANAGER_NAMESPACE, labels={**LABELS, **pod_security("restricted")}),
                opts=pulumi.ResourceOptions.merge(on_cluster, protect))
            # The Gateway API CRDs must exist first: cert-manager exits at start without them
            # (pkg/controller/context.go, "the Gateway API CRDs do not seem to be present").
            self.cert_manager = k8s.helm.v3.Release(
                f"{name}-cert-manager", name="cert-manager", namespace=CERT_MANAGER_NAMESPACE,
                timeout=HELM_TIMEOUT,
                chart=versions.cert_manager_chart, version=versions.cert_manager_chart_version,
                repository_opts=versions.repository_opts(versions.cert_manager_chart_repo),
                values=cert_manager_values(versions), skip_crds=True,
                opts=after(cm_namespace, *([self.crds] if self.crds else [])))
            issuer = custom_resource(f"{name}-issuer", cluster_issuer(cfg), after(self.cert_manager))
            gateway_needs.append(custom_resource(f"{name}-certificate", certificate(cfg),
                                                 after(issuer, self.namespace)))
        self.gateway = custom_resource(f"{name}-gateway", gateway(cfg), after(*gateway_needs))
        self.name = f"{NAMESPACE}/{GATEWAY}"
        self.url = in_cluster_url() if cfg.installs_envoy_gateway else None
        self.register_outputs({"gateway": self.name, "url": self.url, "appDomain": cfg.app_domain})
