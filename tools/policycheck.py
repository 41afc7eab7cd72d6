"""The policy pack (policy/gitops_policies.py) over a render: everything the program registers, as `pulumi preview
--policy-pack policy` sends it, plus every object the expansion found inside its Helm releases and release
manifests, which `pulumi preview` never shows the pack (a helm.sh/v3 Release and a yaml/v2 ConfigFile reach it as
one resource, their objects unseen). The pack's own analyzer service (pulumi-policy's _PolicyAnalyzerServicer)
judges each one, so the rules are exactly the pack's.

An expanded object is sent as the Kubernetes provider would register it (type `kubernetes:<group/version>:<Kind>`,
parent the release), named `<release resource>/<kind>/<namespace>/<name>`.
"""
from __future__ import annotations

import base64
import os
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy import deserialize as sdk_deserialize
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policy import gitops_policies as gp
from tools.charts import FROM
from tools.mockrun import SECRET, RunResult

PACK = "gitops-platform-guardrails"


def _secret(value: Any) -> dict[str, Any]:
    return {sdk_deserialize.SPECIAL_SIG_KEY: sdk_deserialize.SPECIAL_SECRET_SIG, "value": value}


def wire(masked: Any, raw: Any) -> Any:
    """A recorded input back in wire form: values the program made secret become secret envelopes."""
    if masked == SECRET:
        return _secret(raw)
    if isinstance(masked, dict):
        return {key: wire(value, (raw or {}).get(key)) for key, value in masked.items()}
    if isinstance(masked, list):
        return [wire(m, r) for m, r in zip(masked, raw or [None] * len(masked), strict=True)]
    return masked


MASKED = {SECRET, base64.b64encode(SECRET.encode()).decode()}


def secrets_kept(node: Any) -> Any:
    """An expanded object with the values Helm made from Pulumi secrets (the render passes them masked, as
    `[secret]`, so they come out as that text or its base64) marked secret again: the provider keeps a Release's
    outputs secret when its values are, so the pack judges them as `pulumi preview` of the objects would."""
    if isinstance(node, str):
        return _secret(node) if node in MASKED else node
    if isinstance(node, dict):
        return {k: secrets_kept(v) for k, v in node.items()}
    if isinstance(node, list):
        return [secrets_kept(v) for v in node]
    return node


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update(props)
    return value


def resource_type(doc: dict[str, Any]) -> str:
    group_version = doc["apiVersion"] if "/" in doc["apiVersion"] else f"core/{doc['apiVersion']}"
    return f"kubernetes:{group_version}:{doc['kind']}"


def _violations(diagnostics) -> list[str]:
    return [f"{d.policyName}: {d.message.partition(chr(10))[2]}" for d in diagnostics]


def check(result: RunResult, stack: str, expanded: list[dict[str, Any]] | None = None) -> list[str]:
    """Every violation the pack reports over the run and the expanded objects, `<policy>: <message>`."""
    gp.install_secret_markers()
    service = _PolicyAnalyzerServicer(PACK, "0.1.0", gp.POLICIES, EnforcementLevel.MANDATORY)
    previous = os.environ.get("PULUMI_STACK")
    os.environ["PULUMI_STACK"] = stack      # as the CLI tells the pack its stack
    try:
        # The release an expanded object names (`<namespace>/<release>` for a chart, the resource's name for a
        # release manifest) -> that resource.
        owners = {}
        for reg in result.resources:
            if reg.type.startswith("kubernetes:helm.sh/"):
                owners[f"{reg.inputs.get('namespace') or 'default'}/{reg.inputs.get('name') or reg.name}"] = reg
            elif reg.type.startswith("kubernetes:yaml/"):
                owners[reg.name] = reg
        found: list[str] = []
        resources = []
        items = [(reg.type, reg.urn, reg.name, wire(reg.inputs, reg.raw_inputs), reg.parent, reg.dependencies,
                  reg.protect) for reg in result.resources]
        for doc in expanded or []:
            meta = doc.get("metadata") or {}
            origin = (meta.get("annotations") or {}).get(FROM, "")
            owner = owners.get(origin.split(" ", 1)[0])
            type_ = resource_type(doc)
            name = f"{owner.name if owner else '?'}/{doc['kind'].lower()}/{meta.get('namespace') or '-'}/{meta.get('name')}"
            parent = owner.urn if owner else ""
            urn = f"urn:pulumi:{stack}::gitops-platform::{type_}::{name}"
            items.append((type_, urn, name, secrets_kept(doc), parent, [], False))
        for type_, urn, name, props, parent, deps, protect in items:
            value = _struct(props)
            request = proto.AnalyzeRequest(type=type_, urn=urn, name=name, properties=value,
                                           options=proto.AnalyzerResourceOptions(protect=protect, parent=parent))
            found += _violations(service.Analyze(request, None).diagnostics)
            resources.append(proto.AnalyzerResource(type=type_, urn=urn, name=name, properties=value,
                                                    parent=parent, dependencies=deps))
        stack_diags = service.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None).diagnostics
        return found + _violations(stack_diags)
    finally:
        if previous is None:
            os.environ.pop("PULUMI_STACK", None)
        else:
            os.environ["PULUMI_STACK"] = previous
