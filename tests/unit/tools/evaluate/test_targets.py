"""Detection-quality regression: the detection targets, on small simulated scenarios.

`docs/evaluation.md` records the full-size numbers; this keeps CI honest about them at a
scale that runs in seconds (other seeds than the shipped scenarios' defaults).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.settings import DetectionSettings
from app.tools.evaluate.run import evaluate_scenario


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:  # type: ignore[type-arg]
    return {
        name: evaluate_scenario(name, settings=DetectionSettings(), scale=0.02, seed=11)
        for name in ("hydra", "mixed")
    }


def _hw(report: dict) -> dict:  # type: ignore[type-arg]
    return report["detectors"]["hydrawatch"]  # type: ignore[no-any-return]


def test_hydra_targets(reports: dict) -> None:  # type: ignore[type-arg]
    c = next(iter(_hw(reports["hydra"])["campaigns"].values()))
    assert c["detected"] and c["time_to_detect_s"] <= 3600
    assert c["flagged_within_24h"]["share"] >= 0.95
    assert c["first_day_share_before_alert"] <= 0.005


def test_mixed_variant_detected_within_a_day(reports: dict) -> None:  # type: ignore[type-arg]
    c = next(iter(_hw(reports["mixed"])["campaigns"].values()))
    assert c["detected"] and c["time_to_detect_s"] <= 24 * 3600
    assert c["flagged_within_24h"]["share"] >= 0.8


@pytest.mark.parametrize("name", ["hydra", "mixed"])
def test_benign_false_positives(reports: dict, name: str) -> None:  # type: ignore[type-arg]
    benign = _hw(reports[name])["benign"]
    assert benign["fp_rate"] <= 0.001
    hard = {g: v for g, v in benign["by_group"].items() if g != "regular"}
    assert sum(v["high_or_critical"] for v in hard.values()) == 0


def test_baselines_are_reported_beside(reports: dict) -> None:  # type: ignore[type-arg]
    assert set(reports["hydra"]["detectors"]) == {
        "hydrawatch",
        "baseline_account_rate",
        "baseline_subnet_accounts",
    }


@pytest.fixture(scope="module")
def adaptive() -> dict:  # type: ignore[type-arg]
    return evaluate_scenario("adaptive", settings=DetectionSettings(), scale=0.05, seed=12)


def test_every_adaptive_variant_is_found_within_a_day(adaptive: dict) -> None:  # type: ignore[type-arg]
    campaigns = _hw(adaptive)["campaigns"]
    assert {c["group"] for c in campaigns.values()} == {
        "published",
        "slow_paraphrase",
        "low_slow",
        "aged_residential",  # found only through dense blocks across dimensions
        "camouflage",
    }
    for cid, c in campaigns.items():
        assert c["detected"] and c["time_to_detect_s"] <= 24 * 3600, cid
        assert c["flagged_within_24h"]["share"] >= 0.8, cid


def test_no_benign_look_alike_is_alerted_or_enforced(adaptive: dict) -> None:  # type: ignore[type-arg]
    groups = _hw(adaptive)["benign"]["by_group"]
    for g in ("enterprise_eval", "university_class", "popular_agent"):
        assert groups[g]["accounts"] > 0 and groups[g]["flagged"] == 0, g
    assert sum(g["enforced"] for g in groups.values()) == 0


SHARED_GROUND = Path(__file__).parents[4] / "benchmarks" / "scenarios" / "shared_ground.toml"


@pytest.fixture(scope="module")
def shared_ground() -> dict:  # type: ignore[type-arg]
    return evaluate_scenario(str(SHARED_GROUND), settings=DetectionSettings(), scale=0.03, seed=12)


def test_a_harvest_like_tool_on_shared_blocks_is_not_a_campaign(shared_ground: dict) -> None:  # type: ignore[type-arg]
    # a deep-research agent's users (harvest-like by nature), strangers sharing ISP blocks
    # and colleagues in offices: the collisions the proxy-pool family counts, none of it
    # a pool (measured before the population-relative test: 97% of them throttled)
    groups = _hw(shared_ground)["benign"]["by_group"]
    assert groups["research_agent"]["accounts"] > 0
    assert groups["research_agent"]["flagged"] == 0
    assert sum(g["enforced"] for g in groups.values()) == 0
    campaigns = _hw(shared_ground)["campaigns"]
    for c in campaigns.values():
        if c["group"] != "stealth":  # found at larger scales only (docs/evaluation.md)
            assert c["detected"] and c["flagged_within_24h"]["share"] >= 0.8, c["group"]
