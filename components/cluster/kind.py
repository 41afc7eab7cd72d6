"""A local kind cluster, created and deleted with the real `kind` CLI."""
from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_command import local

from components.cluster.base import ClusterArgs, client_settings


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


# A node image is supported only with the kind release it was built for (kind's node-image docs): warn
# when the kind on PATH is another one. `case` patterns from a variable are quoted, so they match literally.
CHECK_RELEASE = ('case "$(kind version)" in *"$KIND_RELEASE"*) ;; *) echo "warning: the node image $KIND_NODE_IMAGE '
                 'is built for kind $KIND_RELEASE, this is $(kind version)" >&2 ;; esac; ')


def registry_hosts_command() -> str:
    """Shell that tells every node's containerd where the in-cluster registry is: a hosts.toml under
    /etc/containerd/certs.d/<host>/ mapping the cluster-DNS name (which a node cannot resolve) to the
    registry's fixed ClusterIP over plain HTTP. kind's own local-registry example does exactly this with
    `docker exec` (kubernetes-sigs/kind@v0.32.0:site/static/examples/kind-with-registry.sh); node images of
    kind v0.27+ read certs.d without a config patch, and containerd picks the file up without a restart.
    The host and IP come from $REGISTRY_HOST and $REGISTRY_IP, always quoted."""
    return ('for node in $(kind get nodes --name "$KIND_CLUSTER"); do '
            'docker exec "$node" mkdir -p "/etc/containerd/certs.d/$REGISTRY_HOST" && '
            'printf \'server = "http://%s:5000"\\n[host."http://%s:5000"]\\n  capabilities = ["pull", "resolve"]\\n\' '
            '"$REGISTRY_IP" "$REGISTRY_IP" | docker exec -i "$node" cp /dev/stdin '
            '"/etc/containerd/certs.d/$REGISTRY_HOST/hosts.toml" || exit 1; done 1>&2; ')


def create_script(registry: bool) -> str:
    """The create script of the kind Command: warn on a kind release mismatch, create the cluster unless
    it exists (the config on stdin), point the nodes at the in-cluster registry, print the kubeconfig."""
    return (CHECK_RELEASE + 'kind get clusters 2>/dev/null | grep -qxF -e "$KIND_CLUSTER" || '
            'kind create cluster --name "$KIND_CLUSTER" --config - --wait 180s 1>&2; '
            + (registry_hosts_command() if registry else "")
            + 'kind get kubeconfig --name "$KIND_CLUSTER"')


# What the live cluster is, read at preview (when kind and docker are on PATH and the cluster exists):
# one `node <name> <image>` line per node and `port <containerPort>/<proto> <hostPort>` per host port
# binding. kind runs each node as a container of the node image, with the config's extraPortMappings as
# its port bindings (kind@v0.32.0 pkg/cluster/internal/providers/docker/provision.go). The name comes from
# $KIND_CLUSTER; the Go templates are in single quotes, so the shell expands nothing in them.
LIVE_CLUSTER = ('command -v kind >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 || exit 0; '
                'for node in $(kind get nodes --name "$KIND_CLUSTER" 2>/dev/null); do '
                'docker inspect -f \'node {{.Name}} {{.Config.Image}}{{"\\n"}}'
                '{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}port {{$p}} {{.HostPort}}{{"\\n"}}'
                '{{end}}{{end}}\' "$node" 2>/dev/null; done; exit 0')


def replacement_reasons(live: str, args: ClusterArgs) -> list[str]:
    """Why the next `pulumi up` replaces the live cluster (its `LIVE_CLUSTER` output): a node count, a
    node image or a host port mapping that differs from the config. Empty when there is no live cluster."""
    nodes = [line.split(maxsplit=2)[1:] for line in live.splitlines() if line.startswith("node ")]
    if not nodes:
        return []
    reasons = []
    workers = args.config.kind.workers
    if len(nodes) != workers + 1:
        reasons.append(f"cluster.kind.workers is {workers}, the cluster has {len(nodes) - 1}")
    images = sorted({image for _, image in (n for n in nodes if len(n) == 2)})
    if images and images != [args.kind_node_image]:
        reasons.append(f"versions.kindNodeImage is {args.kind_node_image}, the nodes run {', '.join(images)}")
    live_ports = set()
    for line in live.splitlines():
        parts = line.split()
        if line.startswith("port ") and len(parts) == 3 and parts[1].endswith("/tcp") and parts[2].isdigit():
            container_port = int(parts[1].removesuffix("/tcp"))
            if container_port != 6443:   # kind's own API server binding, on a random host port
                live_ports.add((container_port, int(parts[2])))
    wanted = {(m["containerPort"], m["hostPort"]) for m in yaml.safe_load(kind_config(args))["nodes"][0]
              ["extraPortMappings"]}
    if live_ports != wanted:
        show = lambda ports: ", ".join(f"{h}->{c}" for c, h in sorted(ports)) or "none"  # noqa: E731
        reasons.append(f"the host ports are {show(wanted)}, the cluster maps {show(live_ports)}")
    return reasons


def warn_before_replacing(reasons: list[str], args: ClusterArgs) -> None:
    if reasons:
        pulumi.log.warn(
            f"the kind cluster {args.cluster_name!r} will be deleted and created again, with everything on it "
            f"(Git server data, registry images, pipeline history): {'; '.join(reasons)}. kind cannot change "
            "a cluster in place. On a protected stack the update stops instead (`protect`).")


class KindClusterComponent(pulumi.ComponentResource):
    """Runs `kind create cluster` with a generated config (recreated when it changes), reads the
    kubeconfig as a secret and exposes a Kubernetes provider for it. Outputs: kubeconfig, name."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:cluster:KindCluster", name, None, opts)
        config = kind_config(args)
        # Nothing from config is spliced into the script: the cluster name, node image, kind release and
        # the registry's host and ClusterIP reach it as environment variables, always expanded inside
        # double quotes ("$KIND_CLUSTER"), so a value is one argument and never shell syntax. The config
        # grammar refuses shell metacharacters in each of them too (tests/test_cluster.py runs this script
        # with stub kind and docker programs and hostile values).
        environment = {"KIND_CLUSTER": args.cluster_name, "KIND_NODE_IMAGE": args.kind_node_image,
                       "KIND_RELEASE": args.kind_version}
        if args.registry:
            environment |= {"REGISTRY_HOST": args.registry[0], "REGISTRY_IP": args.registry[1]}
        self.cluster_name = pulumi.Output.from_input(args.cluster_name)
        # kind logs to stderr; stdout carries only the kubeconfig, which stays a secret.
        self.command = local.Command(
            f"{name}-kind",
            create=create_script(bool(args.registry)),
            delete='kind delete cluster --name "$KIND_CLUSTER"',
            environment=environment,
            stdin=config,
            triggers=[config],
            logging=local.Logging.STDERR,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stdout"],
                                        delete_before_replace=True),
        )
        self.kind_config = config
        if pulumi.runtime.is_dry_run():
            live = local.run_output(command=LIVE_CLUSTER, environment={"KIND_CLUSTER": args.cluster_name},
                                   logging=local.Logging.NONE, opts=pulumi.InvokeOutputOptions(parent=self))
            live.stdout.apply(lambda out: warn_before_replacing(replacement_reasons(out or "", args), args))
        self.kubeconfig = pulumi.Output.secret(self.command.stdout)
        self.provider = k8s.Provider(
            f"{name}-provider", kubeconfig=self.kubeconfig, delete_unreachable=True,
            kube_client_settings=client_settings(args.config),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.command]))
        self.register_outputs({"kubeconfig": self.kubeconfig, "clusterName": self.cluster_name})
