"""A local kind cluster, created and deleted with the real `kind` CLI."""
from __future__ import annotations

import shlex

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_command import local

from components.cluster.base import ClusterArgs


def kind_config(args: ClusterArgs) -> str:
    """The kind cluster config: one control plane carrying the host port mappings, N workers.

    The host ports map to NodePorts (not to 8080 on the node as the seed did), so they reach the
    Argo CD server and Tekton dashboard Services, which are exposed on those NodePorts.
    """
    kind = args.config.kind
    control_plane = {
        "role": "control-plane",
        "image": args.kind_node_image,
        "extraPortMappings": [
            {"containerPort": args.node_ports.argocd, "hostPort": kind.argocd_host_port,
             "listenAddress": "127.0.0.1", "protocol": "TCP"},
            {"containerPort": args.node_ports.dashboard, "hostPort": kind.dashboard_host_port,
             "listenAddress": "127.0.0.1", "protocol": "TCP"},
        ],
    }
    if args.gateway_host_port is not None:
        # The Gateway's Envoy Service is a NodePort with externalTrafficPolicy Cluster, so the control
        # plane's node port reaches Envoy wherever it runs (kind docs: extraPortMappings + nodePort).
        control_plane["extraPortMappings"].append(
            {"containerPort": args.node_ports.gateway, "hostPort": args.gateway_host_port,
             "listenAddress": "127.0.0.1", "protocol": "TCP"})
    if args.gateway_https_host_port is not None:
        control_plane["extraPortMappings"].append(
            {"containerPort": args.node_ports.gateway_https, "hostPort": args.gateway_https_host_port,
             "listenAddress": "127.0.0.1", "protocol": "TCP"})
    if args.git_host_port is not None:
        control_plane["extraPortMappings"].append(
            {"containerPort": args.node_ports.git, "hostPort": args.git_host_port,
             "listenAddress": "127.0.0.1", "protocol": "TCP"})
    workers = [{"role": "worker", "image": args.kind_node_image} for _ in range(kind.workers)]
    document = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "name": args.cluster_name,
                "nodes": [control_plane, *workers]}
    return yaml.safe_dump(document, sort_keys=False)


def registry_hosts_command(cluster: str, host: str, cluster_ip: str) -> str:
    """Shell that tells every node's containerd where the in-cluster registry is: a hosts.toml under
    /etc/containerd/certs.d/<host>/ mapping the cluster-DNS name (which a node cannot resolve) to the
    registry's fixed ClusterIP over plain HTTP. kind's own local-registry example does exactly this with
    `docker exec` (kubernetes-sigs/kind@v0.32.0:site/static/examples/kind-with-registry.sh); node images of
    kind v0.27+ read certs.d without a config patch, and containerd picks the file up without a restart."""
    directory = shlex.quote(f"/etc/containerd/certs.d/{host}")
    toml = shlex.quote(f'server = "http://{cluster_ip}:5000"\n[host."http://{cluster_ip}:5000"]\n'
                       '  capabilities = ["pull", "resolve"]\n')
    return (f"for node in $(kind get nodes --name {shlex.quote(cluster)}); do "
            f"docker exec \"$node\" mkdir -p {directory} && "
            f"printf {toml} | docker exec -i \"$node\" cp /dev/stdin {directory}/hosts.toml || exit 1; done 1>&2; ")


class KindClusterComponent(pulumi.ComponentResource):
    """Runs `kind create cluster` with a generated config (recreated when it changes), reads the
    kubeconfig as a secret and exposes a Kubernetes provider for it. Outputs: kubeconfig, name."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:cluster:KindCluster", name, None, opts)
        config = kind_config(args)
        cluster = shlex.quote(args.cluster_name)
        # A node image is supported only with the kind release it was built for (kind's node-image docs).
        check_version = (f"case \"$(kind version)\" in *{args.kind_version}*) ;; *) echo \"warning: the node image "
                         f"{args.kind_node_image} is built for kind {args.kind_version}, this is $(kind version)\" "
                         ">&2 ;; esac; ")
        self.cluster_name = pulumi.Output.from_input(args.cluster_name)
        # kind logs to stderr; stdout carries only the kubeconfig, which stays a secret.
        self.command = local.Command(
            f"{name}-kind",
            create=(check_version + f"kind get clusters 2>/dev/null | grep -qx {cluster} || "
                    f"kind create cluster --name {cluster} --config - --wait 180s 1>&2; "
                    + (registry_hosts_command(args.cluster_name, *args.registry) if args.registry else "")
                    + f"kind get kubeconfig --name {cluster}"),
            delete=f"kind delete cluster --name {cluster}",
            stdin=config,
            triggers=[config],
            logging=local.Logging.STDERR,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stdout"],
                                        delete_before_replace=True),
        )
        self.kind_config = config
        self.kubeconfig = pulumi.Output.secret(self.command.stdout)
        self.provider = k8s.Provider(
            f"{name}-provider", kubeconfig=self.kubeconfig, delete_unreachable=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.command]))
        self.register_outputs({"kubeconfig": self.kubeconfig, "clusterName": self.cluster_name})
