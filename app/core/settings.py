"""Options of the pure detection core: windows, thresholds, linkage, shared by the worker
and ``detect``. Plain pydantic, no environment: :class:`app.runtime.config.Settings`
carries one as ``detection`` (env vars ``HYDRAWATCH_DETECTION__*``).

>>> DetectionSettings().window_ms
600000
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DetectionSettings"]


class DetectionSettings(BaseModel):
    """Options of the pure detection core (shared by the worker and ``detect``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_ms: int = Field(600_000, ge=1_000, description="Tumbling account window length")
    grace_ms: int = Field(60_000, ge=0, description="Allowed lateness behind the watermark")
    warmup_windows: int = Field(
        200, ge=1, description="Windows the model learns before it may alert"
    )
    threshold_quantile: float = Field(0.995, gt=0.5, lt=1.0)
    min_score: float = Field(0.75, ge=0.0, le=1.0, description="Absolute score floor")
    min_model_requests: int = Field(
        3, ge=1, description="Account windows with fewer requests skip the River model"
    )
    min_requests: int = Field(
        20, ge=1, description="A window with fewer requests is never alerted on"
    )
    cooldown_ms: int = Field(
        3_600_000, ge=0, description="Per-entity quiet period unless severity escalates"
    )
    seed: int = 42
    linkage_tick_ms: int = Field(600_000, ge=10_000, description="Campaign linkage period")
    watermark_rank: int = Field(
        3,
        ge=1,
        description="A partition's event time follows its k-th newest event (one outlier "
        "far ahead cannot make the next real-time events late)",
    )
    pivot_partitions: int = Field(
        4, ge=1, description="Partitions of the pivot stage (observations topic)"
    )
    dedupe_window_ms: int = Field(
        600_000, ge=0, description="Event ids remembered this long (event time) to drop repeats"
    )
    max_dedupe_ids: int = Field(
        200_000, ge=0, description="Event ids remembered per partition, at most"
    )
    max_tracked_accounts: int = Field(
        1_000_000,
        ge=100,
        description="Linkage state for at most this many accounts (oldest tracked evicted)",
    )
    max_pivots: int = Field(
        200_000,
        ge=100,
        description="Shared indicator values tracked, at most (oldest evicted)",
    )
    max_solo_indicators: int = Field(
        2_000_000,
        ge=100,
        description="Indicator values seen by one account only, at most (oldest evicted)",
    )
    linkage_refresh_ms: int = Field(
        4 * 3_600_000,
        ge=600_000,
        description="Links are rebuilt from current evidence this often (their decay)",
    )
    link_stats_growth: float = Field(
        0.25,
        ge=0,
        description="A linked member's stats are re-sent (hourly) once its requests on the "
        "pivot grew by this fraction since they were last sent",
    )
    min_cohort_accounts: int = Field(5, ge=2, description="Accounts on a pivot to score it")
    min_cluster_accounts: int = Field(5, ge=2, description="Accounts in a campaign, at least")
    min_harvest: float = Field(
        0.75, ge=0, le=1, description="Harvest score a cohort/cluster needs (mean per request)"
    )
    member_min_harvest: float = Field(0.7, ge=0, le=1, description="Per-member harvest gate")
    simhash_min_link_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="A member's SimHash link of a single request makes it linked on two kinds "
        "only if that is at least this share of its busiest link's requests (one of its first "
        "ten): a 21-bit band is matched by chance now and then by an account sending many "
        "requests, while a dispatcher's accounts repeat a few prompt families",
    )
    dense_links: bool = Field(
        True,
        description="Harvest-like cohorts with one evidence family send candidate links; an "
        "account they link joins the graph when linked on dense_min_dimensions dimensions",
    )
    dense_min_dimensions: int = Field(
        3,
        ge=2,
        le=5,
        description="Indicator dimensions (network, payment, client, content, creation) an "
        "account must share with others for the dense-block family",
    )
    pool_min_blocks: int = Field(
        4,
        ge=2,
        description="Address blocks (/24) each carrying a few members of a harvest-like cohort "
        "for the proxy-pool family (0.5 at this many, 1.0 at twice as many)",
    )
    pool_min_block_share: float = Field(
        0.03,
        ge=0,
        le=1,
        description="Pool collision blocks per cohort member, at least, beyond the population's "
        "chance collisions: a proxy pool's collisions per member grow with the cohort, those "
        "of independent customers who sit together (households, small offices) do not",
    )
    pool_chance_p: float = Field(
        1e-3,
        gt=0,
        le=1,
        description="The pool family's collisions must be a count that strangers of the "
        "population (its own chance rate of sharing a block) reach with at most this "
        "probability",
    )
    pool_max_block_members: int = Field(
        3,
        ge=2,
        description="At most this many of a cohort's members on one block for it to count as a "
        "pool collision (more is a site: an office, a campus NAT)",
    )
    member_hints: bool = Field(
        True,
        description="A harvest-like member without a family of its own, on a pivot whose "
        "members are nearly all harvest-like, sends a hint: no link, but an account whose "
        "hints reach memory_min_indicator_kinds kinds of pivots one alerted campaign's "
        "members dominate is that campaign's member (docs/architecture.md)",
    )
    hint_min_purity: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Share of a pivot's members whose own traffic there is harvest-like "
        "(member_min_harvest) for it to send hints",
    )
    hint_min_share: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Share of a pivot's linked accounts one alerted campaign must hold for "
        "a hint on it to count for that campaign",
    )
    account_alerts_need_harvest: bool = Field(
        True, description="Per-account anomaly alerts also need harvest-like traffic"
    )
    account_alert_min_families: int = Field(
        2,
        ge=1,
        le=3,
        description="Families of the account's own last 24 h (youth, billing/IP mismatch, risky "
        "IPs) a per-account anomaly alert needs besides harvest-like traffic (a long-standing "
        "org account needs one more): one is what a heavy user of a harvest-like tool on a "
        "cloud dev box, abroad or newly signed up also has",
    )
    trust: bool = Field(
        True,
        description="Trust lowers the severity of aged accounts with a normal history and "
        "caps long-standing org accounts at verify (docs/architecture.md, Trust)",
    )
    indicator_memory_ttl_ms: int = Field(
        7 * 86_400_000,
        ge=0,
        description="How long the indicators of a confirmed or critical campaign are "
        "remembered after it was last confirmed or critical",
    )
    indicator_memory_max_entries: int = Field(
        50_000, ge=0, description="Remembered indicators per stage partition, at most"
    )
    indicator_memory_per_campaign: int = Field(
        512, ge=1, description="Remembered indicators per campaign (the most shared)"
    )
    member_cards: bool = Field(
        True,
        description="Remember the payment methods of a confirmed or critical campaign's "
        "members too — each member's own card, however few accounts share it (a head "
        "grown on its predecessor's card): a card counts as one remembered kind",
    )
    card_memory_max_entries: int = Field(
        100_000, ge=0, description="Remembered member cards in the campaign stage, at most"
    )
    card_memory_per_campaign: int = Field(
        20_000, ge=1, description="Remembered member cards per campaign, at most"
    )
    memory_min_indicator_kinds: int = Field(
        2,
        ge=1,
        description="Remembered indicators of one campaign (of different kinds) that link a "
        "new account to it",
    )
    trust_min_account_age_days: int = Field(
        90,
        ge=1,
        description="Account age (event time minus account_created_ms) from which an "
        "account may be trusted: with an org_id (org trust) or a normal history",
    )
    trust_min_history_requests: int = Field(
        20,
        ge=1,
        description="Requests an aged account needs in its 24 h view for that view to "
        "count as a normal history",
    )

    @model_validator(mode="after")
    def _grace_below_window(self) -> DetectionSettings:
        if self.grace_ms >= 10 * self.window_ms:
            raise ValueError("grace_ms must be below 10 windows")
        return self
