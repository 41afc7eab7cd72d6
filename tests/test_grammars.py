"""The config validator's emulations of the consuming tools' grammars, on the examples their upstream code
decides: Masterminds/semver v3 ranges (Flux ImagePolicy), Go RE2 regexps (Flux filterTags), robfig/cron v3
as Argo CD parses sync windows, Go's time.ParseDuration, and Kubernetes resource.Quantity."""
from __future__ import annotations

import pytest

from components.grammars import cron, go_duration, quantity, semver
from tests import grammar_examples as ex


def _ok(check, value) -> bool:
    try:
        check(value)
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("value", ex.SEMVER_ACCEPTED)
def test_semver_ranges_flux_accepts(value):
    assert semver.is_valid_constraint(value)


@pytest.mark.parametrize("value", ex.SEMVER_REJECTED)
def test_semver_ranges_flux_refuses(value):
    assert not semver.is_valid_constraint(value)


@pytest.mark.parametrize("value", ex.CRON_ACCEPTED)
def test_schedules_argocd_accepts(value):
    assert cron.is_valid_schedule(value)


@pytest.mark.parametrize("value", ex.CRON_REJECTED)
def test_schedules_argocd_refuses(value):
    assert not cron.is_valid_schedule(value)


@pytest.mark.parametrize("value", ex.GO_DURATION_ACCEPTED)
def test_durations_go_accepts(value):
    assert go_duration.is_valid_duration(value)


@pytest.mark.parametrize("value", ex.GO_DURATION_REJECTED)
def test_durations_go_refuses(value):
    assert not go_duration.is_valid_duration(value)


def test_duration_limits_are_gos():
    assert go_duration.parse_duration("1h30m") == 5400 * 10**9
    assert go_duration.parse_duration("2562047h47m16.854775807s") == 2**63 - 1
    assert not go_duration.is_valid_duration("2562048h")


@pytest.mark.parametrize("value", ex.QUANTITY_ACCEPTED)
def test_quantities_kubernetes_parses(value):
    assert _ok(quantity.parse_quantity, value)


@pytest.mark.parametrize("value", ex.QUANTITY_REJECTED)
def test_quantities_kubernetes_refuses(value):
    assert not _ok(quantity.parse_quantity, value)


def test_storage_requests_must_be_positive():
    assert all(quantity.validate_pvc_storage(v) for v in ex.QUANTITY_PVC_BAD)
    assert not any(quantity.validate_pvc_storage(v) for v in ex.QUANTITY_PVC_OK)


@pytest.mark.parametrize("value", ex.GO_REGEXP_ACCEPTED)
def test_regexps_go_compiles(value):
    from components.grammars import go_regexp
    go_regexp.compile_go(value)


@pytest.mark.parametrize("value", ex.GO_REGEXP_REJECTED)
def test_regexps_go_refuses(value):
    from components.grammars import go_regexp
    with pytest.raises(go_regexp.GoRegexpError):
        go_regexp.compile_go(value)


def test_importing_the_grammars_shadows_no_installed_module():
    """A grammar module must not put its directory on sys.path: `import semver` anywhere (the Pulumi SDK's
    rpc module does) would then load components/grammars/semver.py instead of the semver package."""
    import subprocess
    import sys
    code = ("import components.grammars.cron, components.grammars.semver, components.grammars.quantity; "
            "import semver; assert hasattr(semver, 'Version'), semver.__file__")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=str(__import__('pathlib').Path(__file__).resolve().parent.parent))
    assert done.returncode == 0, done.stderr
