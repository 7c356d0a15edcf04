"""Entity alerts: subnets, ASNs and fingerprints (TLS/UA, payment, prompt template).

Entity alerts are ``observe`` by design (thousands of honest customers share a NAT, an
SDK or a template): on-call looks at them. One row per entity with its newest alert;
where the link index knows members linked on that indicator, the campaigns they belong
to are shown with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.events import AlertEvent
from app.core.verdicts import INDICATOR_KINDS
from app.tools.console.store import Snapshot

__all__ = ["ENTITY_TYPES", "EntityRow", "entity_rows", "pivot_key_of"]

ENTITY_TYPES: tuple[str, ...] = ("subnet", "asn", "fingerprint")


def pivot_key_of(entity_type: str, entity_id: str) -> str:
    """The pivot key an entity alert is about (subnets and ASNs drop their prefix in alerts).

    >>> pivot_key_of("subnet", "10.1.2.0/24"), pivot_key_of("fingerprint", "tls:t13|ua")
    ('subnet:10.1.2.0/24', 'tls:t13|ua')
    """
    return f"{entity_type}:{entity_id}" if entity_type in ("subnet", "asn") else entity_id


@dataclass(frozen=True, slots=True)
class EntityRow:
    newest: AlertEvent
    alerts: int
    first_seen_ms: int
    #: campaign members linked on this indicator (link index), by campaign
    campaign_members: tuple[tuple[str, int], ...]

    @property
    def verdict_key(self) -> str | None:
        """The verdict subject this entity is (payment, TLS, template, subnet); None for
        an ASN, which no verdict names."""
        key = pivot_key_of(self.newest.entity_type, self.newest.entity_id)
        return key if key.partition(":")[0] in INDICATOR_KINDS else None

    @property
    def accounts(self) -> int:
        return int(self.newest.evidence.get("accounts", 0))

    @property
    def requests(self) -> int:
        return int(self.newest.evidence.get("requests", 0))


def entity_rows(snap: Snapshot, *, entity_type: str | None = None) -> list[EntityRow]:
    """Newest alert per entity, most recent first (``entity_type``: only that type)."""
    if entity_type is not None and entity_type not in ENTITY_TYPES:
        raise ValueError(f"entity type must be one of {', '.join(ENTITY_TYPES)}")
    types = ENTITY_TYPES if entity_type is None else (entity_type,)
    by_entity: dict[tuple[str, str], list[AlertEvent]] = {}
    for a in snap.alerts:
        if a.entity_type in types:
            by_entity.setdefault((a.entity_type, a.entity_id), []).append(a)
    member_of: dict[str, str] = {}
    for a in snap.alerts:
        if a.entity_type == "account" and a.campaign_id is not None:
            member_of[a.entity_id] = a.campaign_id
    on: dict[str, dict[str, int]] = {}
    for account, links in snap.links.items():
        cid = member_of.get(account)
        if cid is None:
            continue
        for key in links:
            per = on.setdefault(key, {})
            per[cid] = per.get(cid, 0) + 1
    rows = []
    for (etype, eid), alerts in by_entity.items():
        per = on.get(pivot_key_of(etype, eid), {})
        rows.append(
            EntityRow(
                newest=max(alerts, key=lambda a: (a.ts_ms, a.alert_id)),
                alerts=len(alerts),
                first_seen_ms=min(a.ts_ms for a in alerts),
                campaign_members=tuple(sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))),
            )
        )
    rows.sort(key=lambda r: (-r.newest.ts_ms, -r.newest.score, r.newest.entity_id))
    return rows
