"""What a ServiceAccount may do, read from the objects of a render, the way the API server's RBAC authorizer
decides it (k8s.io/kubernetes@v1.35.5 plugin/pkg/auth/authorizer/rbac: a request is allowed when a rule of a
role bound to the subject matches its verb, API group, resource (`*` matching every resource and subresource)
and name; ClusterRoleBindings everywhere, RoleBindings in their namespace; aggregated ClusterRoles are the union
of the ClusterRoles their selectors match, as the aggregation controller keeps them).

Roles the render does not hold (the built-in `admin`, `edit`, `view`) are kept by name: a test can say a
subject is bound to `edit` in one namespace, but their rules are not evaluated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BUILT_IN = ("admin", "edit", "view", "cluster-admin")


@dataclass(frozen=True)
class Grant:
    namespace: str | None          # None: every namespace (a ClusterRoleBinding)
    role: str                      # "ClusterRole/<name>" or "Role/<ns>/<name>"
    rule: dict[str, Any] | None    # None for a role the render does not hold
    binding: str


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()) and bool(
        selector.get("matchLabels"))


def role_rules(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]] | None]:
    rules: dict[str, list[dict[str, Any]] | None] = {}
    cluster_roles = [d for d in docs if d["kind"] == "ClusterRole"]
    for doc in docs:
        meta = doc["metadata"]
        if doc["kind"] == "Role":
            rules[f"Role/{meta['namespace']}/{meta['name']}"] = list(doc.get("rules") or [])
        elif doc["kind"] == "ClusterRole":
            aggregation = doc.get("aggregationRule")
            if aggregation:
                union: list[dict[str, Any]] = []
                for other in cluster_roles:
                    labels = other["metadata"].get("labels") or {}
                    if other is not doc and any(_matches(s, labels) for s in aggregation.get("clusterRoleSelectors") or []):
                        union += other.get("rules") or []
                rules[f"ClusterRole/{meta['name']}"] = union
            else:
                rules[f"ClusterRole/{meta['name']}"] = list(doc.get("rules") or [])
    return rules


def grants(docs: list[dict[str, Any]], namespace: str, account: str) -> list[Grant]:
    """Every rule bound to the ServiceAccount namespace/account, with where it applies."""
    rules = role_rules(docs)
    found: list[Grant] = []
    for doc in docs:
        if doc["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == account
                   and (s.get("namespace") or doc["metadata"].get("namespace")) == namespace
                   for s in doc.get("subjects") or []):
            continue
        ref = doc["roleRef"]
        where = doc["metadata"].get("namespace") if doc["kind"] == "RoleBinding" else None
        key = f"ClusterRole/{ref['name']}" if ref["kind"] == "ClusterRole" else f"Role/{where}/{ref['name']}"
        binding = f"{doc['kind']}/{where or '-'}/{doc['metadata']['name']}"
        if key not in rules:
            found.append(Grant(where, key, None, binding))
            continue
        found += [Grant(where, key, rule, binding) for rule in rules[key] or []]
    return found


def _covers(values: list[str] | None, value: str) -> bool:
    return bool(values) and ("*" in values or value in values)


def rule_allows(rule: dict[str, Any], verb: str, group: str, resource: str, name: str | None = None) -> bool:
    if "nonResourceURLs" in rule and not rule.get("resources"):
        return False
    # plugin/pkg/auth/authorizer/rbac/rbac.go ResourceMatches: `*`, the exact resource[/subresource], or `*/sub`.
    _, _, sub = resource.partition("/")
    resources = rule.get("resources") or []
    resource_ok = "*" in resources or resource in resources or bool(sub and f"*/{sub}" in resources)
    if not (_covers(rule.get("verbs"), verb) and _covers(rule.get("apiGroups"), group) and resource_ok):
        return False
    names = rule.get("resourceNames")
    return not names or (name is not None and name in names)


def allows(found: list[Grant], verb: str, group: str, resource: str, namespace: str | None,
           name: str | None = None) -> bool:
    """Whether the grants allow the request; `namespace` None asks for every namespace (a cluster-wide list,
    or a cluster-scoped resource)."""
    return any(g.rule is not None and (g.namespace is None or g.namespace == namespace)
               and rule_allows(g.rule, verb, group, resource, name) for g in found)


def cluster_wide(found: list[Grant]) -> list[dict[str, Any]]:
    return [g.rule for g in found if g.namespace is None and g.rule is not None]


def verbs_on(found: list[Grant], group: str, resource: str, namespace: str | None) -> set[str]:
    verbs = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
             "impersonate", "bind", "escalate")
    return {v for v in verbs if allows(found, v, group, resource, namespace)}
