"""Replay every golden trace recorded on the real Slurm 22.05 in simcore (docs/fidelity.md).

One test per (case, golden run, check). A difference the simulator cannot match yet is listed in
tests/fidelity/expected_differences.toml with its reason: that test is xfail(strict=True), so it
fails as soon as the simulator starts to match (then remove the entry). Tolerances are fixed here
and in cluster/fidelity/compare.py; never widen them to make a case pass.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from cluster.fidelity.case import case_names, load_case
from cluster.fidelity.compare import CaseResult, checks_for, compare_case, expected_differences, expected_reason
from cluster.fidelity.golden import golden_paths

EXPECTED = expected_differences()


@lru_cache(maxsize=None)
def _results(case: str) -> dict[str, CaseResult]:
    return {r.label: r for r in compare_case(load_case(case))}


def _params():
    for name in case_names():
        case = load_case(name)
        paths = golden_paths(name)
        labels = ([f"runs 1-{len(paths)}"] if case.compare == "spread" else [p.stem for p in paths]) if paths else []
        for label in labels or ["<no golden>"]:
            for check in checks_for(case):
                reason = expected_reason(EXPECTED, name, check, label)
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                yield pytest.param(name, label, check, marks=marks, id=f"{name}-{label.replace(' ', '')}-{check}")


@pytest.mark.parametrize(("case", "label", "check"), list(_params()))
def test_replay_matches_slurm(case: str, label: str, check: str) -> None:
    results = _results(case)
    assert label in results, f"{case}: no golden trace; record it with `python -m cluster.fidelity record {case}`"
    failures = results[label].failures(check)
    assert not failures, f"{case} {label} {check}: " + "; ".join(failures)


def test_spread_cases_have_enough_recordings() -> None:
    for name in case_names():
        case = load_case(name)
        assert len(golden_paths(name)) >= case.runs, f"{name}: {len(golden_paths(name))} goldens, needs {case.runs}"


def test_expected_differences_name_real_cases_and_checks() -> None:
    for (name, check, run), reason in EXPECTED.items():
        assert name in case_names(), f"expected_differences.toml: unknown case {name!r}"
        assert run is None or any(p.stem == run for p in golden_paths(name)), f"{name}: no golden {run!r}"
        assert check in checks_for(load_case(name)), f"expected_differences.toml: {name}: unknown check {check!r}"
        assert len(reason) > 20, f"expected_differences.toml: {name}/{check}: give the precise reason"
