"""What Prometheus does with a scrape config and a query, for the offline proofs of tests/test_canary_analysis.py.

- `pod_target()` is the target Kubernetes pod discovery hands to relabelling: `__address__` (pod IP and
  container port), `__meta_kubernetes_namespace`, `__meta_kubernetes_pod_name`, `__meta_kubernetes_pod_phase`,
  and one `__meta_kubernetes_pod_label_<name>` / `__meta_kubernetes_pod_annotation_<name>` per label and
  annotation, names sanitised to [a-zA-Z0-9_] (prometheus/prometheus discovery/kubernetes/pod.go).
- `relabel()` applies `relabel_configs` as Prometheus does (model/relabel/relabel.go): regexes fully
  anchored RE2, `source_labels` joined by `;`, `$1`/`${1}` in replacements, actions keep/drop/replace/labelmap;
  a target whose `__address__` is gone or that a keep/drop removed is dropped; `__`-prefixed labels are
  removed after relabelling.
- `selectors()` lists the vector selectors of a PromQL query (parsed by promql-parser, a PromQL parser
  in Rust), and `matches()` says whether a series' labels satisfy one selector's matchers (=, !=, =~, !~,
  regexes anchored at both ends as PromQL anchors them).
"""
from __future__ import annotations

import re

import promql_parser
import re2

SANITIZE = re.compile(r"[^a-zA-Z0-9_]")


def pod_target(namespace: str, name: str, port: int, labels: dict[str, str], annotations: dict[str, str],
               phase: str = "Running", ip: str = "10.244.1.7") -> dict[str, str]:
    target = {"__address__": f"{ip}:{port}", "__meta_kubernetes_namespace": namespace,
              "__meta_kubernetes_pod_name": name, "__meta_kubernetes_pod_phase": phase,
              "__meta_kubernetes_pod_ip": ip}
    target.update({f"__meta_kubernetes_pod_label_{SANITIZE.sub('_', k)}": v for k, v in labels.items()})
    target.update({f"__meta_kubernetes_pod_labelpresent_{SANITIZE.sub('_', k)}": "true" for k in labels})
    target.update({f"__meta_kubernetes_pod_annotation_{SANITIZE.sub('_', k)}": v for k, v in annotations.items()})
    target.update({f"__meta_kubernetes_pod_annotationpresent_{SANITIZE.sub('_', k)}": "true" for k in annotations})
    return target


def _expand(template: str, match) -> str:
    def group(m):
        index = m.group(1) or m.group(2)
        value = match.group(int(index)) if index.isdigit() else match.group(index)
        return value or ""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", group, template)


def relabel(target: dict[str, str], configs: list[dict]) -> dict[str, str] | None:
    labels = dict(target)
    for config in configs:
        action = config.get("action", "replace")
        regex = re2.compile(f"^(?:{config.get('regex', '(.*)')})$")
        value = config.get("separator", ";").join(labels.get(s, "") for s in config.get("source_labels", []))
        if action == "keep":
            if not regex.match(value):
                return None
        elif action == "drop":
            if regex.match(value):
                return None
        elif action == "replace":
            match = regex.match(value)
            if match:
                result = _expand(config.get("replacement", "$1"), match)
                target_label = _expand(config["target_label"], match)
                if result:
                    labels[target_label] = result
                else:
                    labels.pop(target_label, None)
        elif action == "labelmap":
            for name, v in list(labels.items()):
                match = regex.match(name)
                if match:
                    labels[_expand(config.get("replacement", "$1"), match)] = v
        else:
            raise AssertionError(f"relabel action {action!r} is not modelled")
    if not labels.get("__address__"):
        return None
    return {k: v for k, v in labels.items() if not k.startswith("__")} | {"__address__": labels["__address__"],
                                                                         "__metrics_path__": labels.get(
                                                                             "__metrics_path__", "/metrics")}


def selectors(query: str) -> list[promql_parser.VectorSelector]:
    found = []

    def walk(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)
            return
        for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, (str, int, float)):
                walk(child)
        for arg in getattr(node, "args", None) or []:
            walk(arg)
    walk(promql_parser.parse(query))
    return found


def matches(selector: promql_parser.VectorSelector, series: dict[str, str]) -> bool:
    """True when `series` (labels, with __name__) is selected by `selector`."""
    if selector.name and series.get("__name__") != selector.name:
        return False
    for m in selector.matchers.matchers:
        value = series.get(m.name, "")
        op = str(m.op).rsplit(".", 1)[-1]
        if op == "Equal" and value != m.value or op == "NotEqual" and value == m.value:
            return False
        if op in ("Re", "NotRe"):
            hit = re2.match(f"^(?:{m.value})$", value) is not None
            if hit != (op == "Re"):
                return False
    return True
