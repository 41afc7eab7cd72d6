"""The tools the platform's installs and pipelines really run, pinned to the versions they run, built from
their Go modules by `python -m tools.toolchain` (cached by version) so the tests use them for real.

Each entry: the version the platform runs, where that is written upstream, and the Go package to build.
Bumped by Renovate like components/versions.py (the `# renovate:` comments).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    name: str          # the binary
    package: str       # the Go package `go install` builds (module path + command directory)
    version: str       # the module version (a tag)
    runs_as: str       # what in the platform runs this version, with its citation
    ldflags: str = ""  # version stamping the upstream release build does ({version} is replaced)
    version_args: tuple[str, ...] = ("version",)
    # False: a tool the harness would run when the proxy serves it; the command reports go's answer when it
    # does not, and the harness keeps its stand-in (tests/harness/stand_ins.py says what that covers).
    required: bool = True
    # A wrapper module under tools/gomod/<module> (go.mod + go.sum committed) when `go install pkg@version` cannot
    # build the tool: its go.mod has replace directives (etcd's server, k8s.io/kubernetes' staging modules).
    module: str = ""
    # "tools": built by the test command; "cluster": the simulated cluster (issue 19), built on request
    # (`python -m tools.toolchain --group cluster`) until the cluster test uses it.
    group: str = "tools"
    # Files copied out of a dependency's module directory (as go.sum pins it) into the wrapper before the build:
    # (module path, file in that module, destination in the wrapper), for a main that embeds generated files.
    embeds: tuple[tuple[str, str, str], ...] = ()


class Pins:
    # Argo CD v3.4.4 bundles kustomize 5.8.1 (argo-cd@v3.4.4:hack/tool-versions.sh kustomize5_version).
    # renovate: datasource=go depName=sigs.k8s.io/kustomize/kustomize/v5
    kustomize: str = "v5.8.1"
    # mikefarah/yq v4, the newest v4 the Go proxy serves that builds with Go 1.26.
    # renovate: datasource=go depName=github.com/mikefarah/yq/v4
    yq: str = "v4.54.3"
    # The Helm library the Pulumi Kubernetes provider embeds. The pinned SDK is 4.34.2; the newest provider
    # source readable here (pulumi/pulumi-kubernetes main at 94977969, 2026-07-01, after v4.32.0) and v4.32.0
    # both require helm.sh/helm/v3 v3.20.2 (provider/go.mod): the nearest readable, labelled as such.
    # renovate: datasource=go depName=helm.sh/helm/v3
    helm: str = "v3.20.2"
    # The git-init of the tektoncd-catalog/git-clone v1.7.0 task's image (versions.git_clone_task_revision).
    # The proxy serves github.com/tektoncd-catalog/git-clone@v1.7.0, but a module zip leaves out nested modules
    # and image/git-init has its own go.mod (at v1.7.0, commit c166e562), declaring the module path
    # github.com/tektoncd-catalog/git-clone/git-init, a directory the repository does not have: no spelling
    # resolves (`go install` answers "found, but does not contain package"). Tried on every run and reported.
    # renovate: datasource=go depName=github.com/tektoncd-catalog/git-clone
    git_init: str = "v1.7.0"
    # The simulated cluster. etcd 3.6 (Kubernetes 1.35 supports 3.5.x and 3.6.x; Debian's is older).
    # renovate: datasource=go depName=go.etcd.io/etcd/server/v3
    etcd: str = "v3.6.16"
    # The control plane at the pinned kind node image's Kubernetes (components/versions.py kind_node_image,
    # v1.35.x): k8s.io/kubernetes in tools/gomod/kube, its staging modules replaced with v0.35.5.
    # renovate: datasource=go depName=k8s.io/kubernetes
    kubernetes: str = "v1.35.5"
    # kwok, which makes the simulated cluster's nodes and pods look Ready (its Stages); v0.8.0 is built against
    # client-go v0.36.1 and installs with `go install`.
    # renovate: datasource=go depName=sigs.k8s.io/kwok
    kwok: str = "v0.8.0"
    # The Pulumi CLI (engine) for the real `pulumi up`: the nearest version the Go proxy serves at or above the
    # pinned Python SDK (pulumi==3.272.0, requirements.txt): github.com/pulumi/pulumi/pkg/v3 v3.272.0 and
    # v3.273.0 are refused ("not available"), v3.274.0 is served. Built in tools/gomod/pulumi.
    # renovate: datasource=go depName=github.com/pulumi/pulumi/pkg/v3
    pulumi: str = "v3.274.0"
    # The pulumi-kubernetes provider. The pinned Python SDK is pulumi-kubernetes==4.34.2; the only version of
    # github.com/pulumi/pulumi-kubernetes/provider/v4 the Go proxy serves is v4.0.0-20260115033456-f47bc2d6f199,
    # which is exactly the commit of tag v4.25.0 (the proxy refuses v4.25.0 ... v4.34.2 by tag: the module's
    # tags are not semver for a v4 subdirectory module). It runs as an ambient plugin (on PATH), so the engine
    # uses it for the SDK's 4.34.2 requests; every figure is labelled "provider 4.25.0". tools/gomod/pulumi-kubernetes.
    # renovate: datasource=go depName=github.com/pulumi/pulumi-kubernetes/provider/v4
    pulumi_kubernetes: str = "v4.25.0"


# What the Kubernetes release build stamps (hack/lib/version.sh), so the API server reports its real version
# (Helm's kubeVersion checks and the provider read /version).
KUBE_LDFLAGS = " ".join(
    f"-X {pkg}.gitVersion={{version}} -X {pkg}.gitMajor={{major}} -X {pkg}.gitMinor={{minor}} "
    f"-X {pkg}.gitTreeState=clean -X {pkg}.buildDate=1970-01-01T00:00:00Z"
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"))

TOOLS = (
    Tool("kustomize", "sigs.k8s.io/kustomize/kustomize/v5", Pins.kustomize,
         "Argo CD v3.4.4's repo server (argo-cd@v3.4.4:hack/tool-versions.sh)",
         ldflags="-X sigs.k8s.io/kustomize/api/provenance.version={version}"),
    Tool("yq", "github.com/mikefarah/yq/v4", Pins.yq, "mikefarah/yq v4, for the overlay edits and tests",
         version_args=("--version",)),
    Tool("helm", "helm.sh/helm/v3/cmd/helm", Pins.helm,
         "the Helm library of the Pulumi Kubernetes provider (nearest readable provider/go.mod: v3.20.2)",
         ldflags="-X helm.sh/helm/v3/internal/version.version={version}", version_args=("version", "--short")),
    Tool("git-init", "github.com/tektoncd-catalog/git-clone/git-init", Pins.git_init,
         "the tektoncd-catalog/git-clone v1.7.0 task's image (image/git-init)", required=False),
    Tool("etcd", "go.etcd.io/etcd/server/v3", Pins.etcd, "the simulated cluster's store", module="etcd",
         version_args=("--version",), group="cluster"),
    *(Tool(name, f"k8s.io/kubernetes/cmd/{name}", Pins.kubernetes, "the simulated cluster's control plane",
           module="kube", ldflags=KUBE_LDFLAGS, group="cluster", version_args=("--version",))
      for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")),
    Tool("kwok", "sigs.k8s.io/kwok/cmd/kwok", Pins.kwok, "the simulated cluster's nodes and pods (issue 19)",
         group="cluster", version_args=("--version",)),
    Tool("pulumi", "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi", Pins.pulumi,
         "the Pulumi engine `pulumi up` runs (nearest served at or above the pinned SDK 3.272.0)",
         module="pulumi", group="cluster",
         # pulumi/pulumi@v3.274.0:scripts/build.sh stamps the version (what `pulumi version` prints).
         ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version={version}"),
    Tool("pulumi-resource-kubernetes", "./cmd/pulumi-resource-kubernetes", Pins.pulumi_kubernetes,
         "the Kubernetes provider `pulumi up` applies with (4.25.0: the only one served; the SDK is 4.34.2)",
         module="pulumi-kubernetes", group="cluster", version_args=(),  # it has no version flag
         # pulumi/pulumi-kubernetes@v4.25.0:Makefile: -X .../provider/v4/pkg/version.Version=$(VERSION_GENERIC)
         ldflags="-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version={bare}",
         embeds=tuple(("github.com/pulumi/pulumi-kubernetes/provider/v4", f"cmd/pulumi-resource-kubernetes/{f}.json",
                       f"cmd/pulumi-resource-kubernetes/{f}-embed.json") for f in ("schema", "terraform-mapping"))),
    Tool("kubectl", "k8s.io/kubernetes/cmd/kubectl", Pins.kubernetes,
         "the client the cluster test applies and asks `auth can-i` with (the server's own minor)",
         module="kube", ldflags=KUBE_LDFLAGS, group="cluster", version_args=("version", "--client")),
)
