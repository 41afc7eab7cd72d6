"""Hostile config: a corpus of malformed stack files, each with the exact error line it must give,
and random structures thrown at the loader. Never a traceback, never a partial program."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import ConfigError, PlatformConfig, load_config
from tools.stackfile import load_file

CORPUS = sorted((Path(__file__).parent / "fixtures" / "malformed").glob("*.yaml"))


def expected_line(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <line>'"
    return first.removeprefix("# expect: ")


def load_case(path: Path) -> tuple[dict, str]:
    """(raw config, stack name) of a corpus file, read the way the render reads a stack file."""
    document = load_file(path)
    config = {k.partition(":")[2]: v for k, v in document["config"].items()}
    env = config.get("environment", "dev")
    return config, env if env in ("dev", "staging", "prod") else "dev"


def test_corpus_has_at_least_thirty_cases():
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_malformed_config_gives_its_exact_error_line(path):
    config, env = load_case(path)
    with pytest.raises(ConfigError) as caught:
        load_config(config, env)
    assert expected_line(path) in caught.value.lines, caught.value.lines


@pytest.mark.parametrize("path", CORPUS[::6], ids=[p.stem for p in CORPUS[::6]])
def test_malformed_config_creates_no_resource(run, path):
    config, _ = load_case(path)
    result = run(config, stack="dev")
    assert result.resources == []
    assert expected_line(path) in result.errors


VALID = {
    "configRepo": {"url": "https://github.com/org/gitops-config.git"},
    "apps": [{"name": "web", "image": "ghcr.io/org/web"}],
}
KEYS = ["environment", "cluster", "configRepo", "registry", "apps", "features", "versions", "argocd", "tekton",
        "imageUpdates", "flux", "flagger", "protect", "provider", "name", "namespace", "url", "kind", "eks",
        "canary", "imagePolicy", "semver", "stepWeight", "maxWeight", "path", "sync", "region", "workers"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["dev", "prod", "kind", "eks", "auto", "../x", "latest",
                                                            "https://github.com/o/r.git", "Book_Dev", ""]))
structures = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=5)), max_leaves=25)


def _check(raw, stack="dev"):
    try:
        config = load_config(raw, stack)
    except ConfigError as err:
        assert err.lines and all(line.startswith("gitops-platform:") for line in err.lines), err.lines
        assert all("\n" not in line and "Traceback" not in line for line in err.lines)
    else:
        assert isinstance(config, PlatformConfig)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), structures, max_size=8))
def test_random_structures_give_a_model_or_error_lines(raw):
    _check(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["cluster", "configRepo", "registry", "apps", "features", "versions", "argocd", "tekton",
                        "imageUpdates", "flux", "flagger", "protect", "environment"]), structures)
def test_random_values_in_a_valid_config_give_a_model_or_error_lines(key, value):
    raw = copy.deepcopy(VALID)
    raw[key] = value
    _check(raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 0), st.dictionaries(st.sampled_from(["name", "namespace", "path", "image", "sourceRepo",
                                                           "sync", "canary", "imagePolicy"]), structures, max_size=6))
def test_random_apps_give_a_model_or_error_lines(index, app):
    raw = copy.deepcopy(VALID)
    raw["apps"] = [{**raw["apps"][0], **app}]
    _check(raw)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(KEYS), structures, min_size=1, max_size=5))
def test_the_program_never_builds_part_of_a_platform_from_bad_config(run, raw):
    try:
        load_config(raw, "dev")
        return  # valid by chance: nothing to prove here
    except ConfigError:
        pass
    result = run(raw)
    assert result.resources == [] and result.errors
