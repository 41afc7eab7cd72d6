"""Locked dependencies and the update bot's view of every pin."""
from __future__ import annotations

import json
import re

from components.versions import PINNED, Versions
from tools.mockrun import ROOT

LOCKS = {"requirements.in": "requirements.txt", "requirements-dev.in": "requirements-dev.txt",
         "policy/requirements.in": "policy/requirements.txt"}


def pins_of(path) -> dict[str, str]:
    found = {}
    for line in (ROOT / path).read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_every_direct_pin_is_in_its_lock_file_at_that_version_with_hashes():
    for source, lock in LOCKS.items():
        locked = pins_of(lock)
        for name, version in pins_of(source).items():
            assert locked.get(name) == version, f"{lock} has {name} {locked.get(name)}, {source} pins {version}"
        text = (ROOT / lock).read_text()
        entries = re.findall(r"^[A-Za-z0-9_.-]+==\S+(?: ;[^\\\n]*)? \\\n((?:\s+--hash=sha256:[0-9a-f]{64}.*\n)+)", text, re.M)
        assert len(entries) == len(locked), f"{lock}: every requirement carries its hashes"
    dev = pins_of("requirements-dev.txt")
    assert all(dev.get(name) == version for name, version in pins_of("requirements.txt").items()), \
        "the dev lock holds the runtime's exact versions"


def test_the_update_bot_finds_every_pin_of_the_versions_table():
    config = json.loads((ROOT / "renovate.json").read_text())
    patterns = [re.compile(p.replace("(?<", "(?P<")) for m in config["customManagers"] for p in m["matchStrings"]]
    text = (ROOT / "components" / "versions.py").read_text()
    found = {}
    for pattern in patterns:
        for match in pattern.finditer(text):
            field = re.search(r"\n\s+(\w+): str =", match.group(0)).group(1)
            found[field] = match.groupdict()
    versioned = [name for name in Versions.model_fields
                 if name.endswith(("_version", "_controller")) or name.startswith(("image_", "chart_image_"))
                 or name == "kind_node_image"]
    unfound = sorted(set(versioned) - set(found) - {"image_git_clone"})
    assert not unfound, f"versions.py pins without a `# renovate:` comment the bot can read: {unfound}"
    for field, groups in found.items():
        value = getattr(PINNED, field)
        if groups.get("currentDigest"):
            assert value.endswith(f":{groups['currentValue']}@{groups['currentDigest']}"), field
        elif field.startswith("chart_image_"):
            assert value == f"{groups['depName']}:{groups['currentValue']}", field
        else:
            assert value == groups["currentValue"], field


def test_each_pin_is_read_by_exactly_one_manager():
    """A chart image must not also match the plain-version manager (it would read the whole reference as a
    version); each field is matched once."""
    config = json.loads((ROOT / "renovate.json").read_text())
    text = (ROOT / "components" / "versions.py").read_text()
    seen: dict[str, int] = {}
    for manager in config["customManagers"]:
        for p in manager["matchStrings"]:
            for match in re.compile(p.replace("(?<", "(?P<")).finditer(text):
                field = re.search(r"\n\s+(\w+): str =", match.group(0)).group(1)
                seen[field] = seen.get(field, 0) + 1
    assert {f: n for f, n in seen.items() if n != 1} == {}
