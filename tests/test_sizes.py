"""No emitted object may outgrow what the API server stores: the objects that grow with the apps are known
(components/sizes.py), measured before anything is created, and a stack that would make one too large is
refused with the key and how many apps fit."""
from __future__ import annotations

import pytest

from components.config import ConfigError, load_config
from components.sizes import MAX_OBJECT_BYTES, checked, growing_objects, size_of
from tools.bench import synthetic_config
from tools.render import manifests


def long_named(apps: int) -> dict:
    """The bench's stack (every feature, a canary and image policy per app) with names as long as the config
    accepts (the PipelineRun name bound: 63 - len('-ci-xxxxx')) and 63-character namespaces."""
    config = synthetic_config(apps)
    for i, app in enumerate(config["apps"]):
        app["name"] = f"{'a' * 48}-{i:05d}"[:54]
        app["namespace"] = f"{'n' * 56}-{i:06d}"[:63]
    return config


def sizes(config: dict) -> dict[str, tuple[int, int]]:
    return {what: (entries, size_of(manifest)) for _, what, entries, manifest in
            growing_objects(load_config_unchecked(config))}


def load_config_unchecked(config: dict):
    from components.config import PlatformConfig
    from components.config.loader import embedded_defaults
    return PlatformConfig.model_validate(embedded_defaults({"environment": "dev", **config}))


def test_ten_thousand_apps_in_per_app_mode_are_refused_by_the_event_listener_alone():
    with pytest.raises(ConfigError) as refused:
        checked(load_config(synthetic_config(10_000), "dev"))
    assert len(refused.value.lines) == 1, refused.value.lines
    line = refused.value.lines[0]
    assert line.startswith("gitops-platform:apps: EventListener/gitops-ci would be ")
    assert "with its 10000 entries" in line and "about 8" in line and "split the apps over stacks" in line


def test_at_ten_thousand_apps_with_the_longest_names_the_app_project_is_refused_too():
    """10,000 destinations of 63-character namespaces are about 1.2 MiB: the AppProject is over the bound as
    well, the Prometheus scrape config (one name per namespace) is not."""
    config = long_named(10_000)
    measured = sizes(config)
    assert set(measured) == {"EventListener/gitops-ci", "AppProject/dev", "ConfigMap/prometheus-config"}
    assert {entries for entries, _ in measured.values()} == {10_000}
    assert measured["EventListener/gitops-ci"][1] > 10 * MAX_OBJECT_BYTES
    assert measured["AppProject/dev"][1] > MAX_OBJECT_BYTES
    assert measured["ConfigMap/prometheus-config"][1] < MAX_OBJECT_BYTES
    with pytest.raises(ConfigError) as refused:
        checked(load_config(config, "dev"))
    assert [line.split(" would be ")[0] for line in refused.value.lines] == [
        "gitops-platform:apps: EventListener/gitops-ci", "gitops-platform:apps: AppProject/dev"]


def test_the_most_apps_the_event_listener_holds_are_accepted_and_one_more_is_not():
    per_trigger = sizes(long_named(100))["EventListener/gitops-ci"][1] / 100
    fits = int(MAX_OBJECT_BYTES / per_trigger) - 2
    checked(load_config(long_named(fits), "dev"))
    with pytest.raises(ConfigError):
        checked(load_config(long_named(fits + 20), "dev"))


def test_the_program_refuses_an_oversized_stack_before_registering_anything(run):
    result = run(synthetic_config(1_000), secrets={"gitToken": "t", "registryPassword": "p"})
    assert [line.split(" would be ")[0] for line in result.errors[:1]] == [
        "gitops-platform:apps: EventListener/gitops-ci"]
    assert result.resources == []


def test_every_object_that_grows_with_the_apps_is_one_the_size_check_measures(run):
    """Render 4 and 12 apps: an object whose size differs is one of growing_objects, else the check would
    miss it at scale."""
    def rendered(apps: int) -> dict[tuple, int]:
        result = run(synthetic_config(apps), secrets={"gitToken": "t", "registryPassword": "p"})
        assert not result.errors, result.errors
        return {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): size_of(d)
                for d in manifests(result)}
    small, large = rendered(4), rendered(12)
    grew = {f"{kind}/{name}" for (kind, ns, name), size in small.items() if large.get((kind, ns, name), size) != size}
    measured = set(sizes(synthetic_config(12)))
    assert grew, "nothing grew with the apps: the comparison is broken"
    assert grew <= measured, sorted(grew - measured)
