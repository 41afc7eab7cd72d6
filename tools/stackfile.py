"""Read a Pulumi.<stack>.yaml the way the Pulumi CLI does, so the offline render refuses what it refuses.

The CLI loads stack files with gopkg.in/yaml.v3 (pulumi/pulumi sdk/go/common/workspace/loaders.go):
- a mapping key defined twice is an error ("mapping key ... already defined at line N"), where PyYAML
  would silently keep the last value (a prod stack quietly turning into dev);
- YAML 1.2 scalars: only true/false are booleans (`on`, `yes`, `off`, `no` stay strings, unlike YAML 1.1);
- excessive aliasing ("billion laughs") is refused before it is expanded, by yaml.v3's own rule
  (decode.go: more than 100 aliased nodes, more than 1000 in all, and aliased nodes over a share of
  the total that falls from 99% at 400,000 nodes to 10% at 4,000,000), so a large stack without
  aliases is never refused;
- merge keys (`<<: *base`) merge, explicit keys winning, as yaml.v3 does.
Nesting deeper than MAX_DEPTH is refused (a stack config is a few levels deep; PyYAML's recursive
composer would otherwise fail with a RecursionError).
Bytes that are not UTF-8 and raw control characters are refused with the file's line.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

# yaml.v3 decode.go: alias_ratio_range_low/high and the two absolute floors of its aliasing check.
ALIAS_RATIO_LOW, ALIAS_RATIO_HIGH = 400_000, 4_000_000
MAX_DEPTH = 200


class StackFileError(ValueError):
    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


class CoreLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema's implicit types instead of YAML 1.1's."""


CoreLoader.yaml_implicit_resolvers = {}
for tag, pattern, first in [
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
]:
    CoreLoader.add_implicit_resolver(tag, re.compile(pattern), list(first))


def _construct_int(loader: CoreLoader, node: yaml.ScalarNode) -> int:
    value = node.value
    if value.startswith("0o"):
        return int(value[2:], 8)
    if value.startswith("0x"):
        return int(value[2:], 16)
    return int(value)


def _construct_bool(loader: CoreLoader, node: yaml.ScalarNode) -> bool:
    return node.value.lower() == "true"


CoreLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
CoreLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _check_text(name: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise StackFileError([f"{name}:{line}: is not valid UTF-8 (byte 0x{data[err.start]:02x}); save the file "
                              "as UTF-8"]) from None
    for match in re.finditer(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\u2028\u2029]", text):
        if match.group() == "\ufeff" and match.start() == 0:
            continue
        raise StackFileError([f"{name}:{_line_of(text, match.start())}: contains the raw control character "
                              f"{match.group()!r}; write it escaped in a double-quoted string, or remove it"])
    return text


def _allowed_alias_ratio(decoded: int) -> float:
    if decoded <= ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - ALIAS_RATIO_LOW) / (ALIAS_RATIO_HIGH - ALIAS_RATIO_LOW)


def _sizes(root: yaml.Node) -> dict[int, int]:
    """Nodes each node decodes to with its aliases expanded (iteratively, post-order, without expanding)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes and not done:
            continue
        children = ([c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode)
                    else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if done:
            sizes[id(node)] = min(1 + sum(sizes.get(id(c), 1) for c in children), 10 * ALIAS_RATIO_HIGH)
        else:
            sizes[id(node)] = 1   # a cycle counts once (the composer refuses recursive aliases anyway)
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(children))
    return sizes


def excessive_aliasing(root: yaml.Node) -> bool:
    """yaml.v3's check, replayed in document order: every node decoded counts, and those decoded inside an
    alias also count as aliased; refused as soon as aliased > 100, decoded > 1000 and aliased/decoded is
    over the allowed ratio. PyYAML's composer shares an anchored node wherever it is aliased, so a node
    met a second time is an alias of its whole (expanded) size."""
    sizes = _sizes(root)
    seen: set[int] = set()
    decoded = aliased = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:   # the alias node itself is decoded too, outside the alias
            decoded += 1 + sizes[id(node)]
            aliased += sizes[id(node)]
        else:
            seen.add(id(node))
            decoded += 1
            children = ([c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode)
                        else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
            stack.extend(reversed(children))
        if aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(decoded):
            return True
    return False


def _depth(text: str) -> int:
    """The deepest nesting of collections in `text`, from the parser's events (no recursion)."""
    depth = deepest = 0
    for event in yaml.parse(text, Loader=CoreLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return deepest


def _duplicates(name: str, node: yaml.Node, seen: set[int]) -> list[str]:
    """yaml.v3's rule: two keys of one mapping clash when their kind and (unquoted) value are equal."""
    if id(node) in seen:
        return []
    seen.add(id(node))
    found: list[str] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            ident = (type(key).__name__, key.value if isinstance(key, yaml.ScalarNode) else "")
            line = key.start_mark.line + 1
            if ident in first:
                found.append(f"{name}:{line}: mapping key {ident[1]!r} is already defined at line {first[ident]} "
                             "(the Pulumi CLI refuses duplicate keys; a later value would silently win)")
            else:
                first[ident] = line
            found += _duplicates(name, key, seen) + _duplicates(name, value, seen)
    elif isinstance(node, yaml.SequenceNode):
        for value in node.value:
            found += _duplicates(name, value, seen)
    return found


def load_text(data: bytes | str, name: str = "Pulumi.yaml") -> Any:
    """The document in `data`, or StackFileError with the problems and their lines."""
    text = _check_text(name, data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    try:
        if _depth(text) > MAX_DEPTH:
            raise StackFileError([f"{name}: is nested more than {MAX_DEPTH} levels deep; a stack config never "
                                  "needs that (check the indentation or the brackets)"])
    except yaml.YAMLError:
        pass   # reported with its line below
    loader = CoreLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if excessive_aliasing(node):
            raise StackFileError([f"{name}: the document contains excessive aliasing (yaml.v3's limit, which the "
                                  "Pulumi CLI applies: too many nodes come from expanding aliases)"])
        duplicates = _duplicates(name, node, set())
        if duplicates:
            raise StackFileError(duplicates)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise StackFileError([f"{where}: is not valid YAML ({problem})"]) from None
    finally:
        loader.dispose()


def load_file(path: Path) -> Any:
    return load_text(Path(path).read_bytes(), Path(path).name)
