"""One shared indicator's state: a 24 h view, per-member records, running moments.

Each member record is the account's traffic *on this pivot* within the 24 h view
(``R_*`` fields, one ``array('d')``), plus the tag of the subnet of its last request
here, so the pivot knows which of its members share an address block with another
member (co-location inside the cohort, without looking at any other pivot), the
trust level of its latest observation here and the tag of that observation's payment
method (both sent on its links).

>>> p = PivotState()
>>> for acct, tag in (("a", 1), ("b", 1), ("c", 2)):
...     _ = p.add(acct, 1_000, 2_000, [2, 40, 0, 2, 2, 2, 6000, 0], tag)
>>> p.co_located("a"), p.co_located("c"), p.distinct_accounts
(True, False, 3)
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from app.core.campaigns.evidence import CountMoments
from app.core.campaigns.values import F_HARVEST, F_MISMATCH, F_REQ, F_RISKY, F_YOUNG, N_FIELDS
from app.core.windows.hll import HyperLogLog
from app.core.windows.sliding import DAY_MS, TEN_MIN_MS, SlidingSums

__all__ = [
    "COUNTED",
    "MAX_PIVOT_ACCOUNTS",
    "RESTARTED",
    "R_CARD",
    "R_HARVEST",
    "R_LAST",
    "R_MISMATCH",
    "R_N",
    "R_ORG",
    "R_RISKY",
    "R_SUBNET",
    "R_TRUST",
    "R_YOUNG",
    "UNTRACKED",
    "PivotState",
    "pivot_sums",
]

#: Fields of a pivot member record.
R_LAST, R_N, R_HARVEST, R_MISMATCH, R_RISKY, R_YOUNG, R_SUBNET, R_TRUST, R_ORG, R_CARD = range(10)
_RECORD_FIELDS = 10
#: What :meth:`PivotState.add` did to the account's member record.
UNTRACKED, COUNTED, RESTARTED = range(3)
#: Accounts tracked exactly per pivot; beyond this a HyperLogLog counts the rest, so a
#: pivot shared by a whole population (a popular SDK fingerprint) stays bounded.
MAX_PIVOT_ACCOUNTS = 20_000


def pivot_sums() -> SlidingSums:
    """A pivot's (or the population's) 24 h view over 10-minute buckets of all fields."""
    return SlidingSums(n_fields=N_FIELDS, bucket_ms=TEN_MIN_MS, horizon_ms=DAY_MS)


class PivotState:
    __slots__ = (
        "accounts",
        "dirty",
        "failed",
        "hinted",
        "last_ts",
        "linked",
        "moments",
        "org_members",
        "orgs",
        "overflow",
        "pool",
        "restat",
        "scanned",
        "subnets",
        "sums",
        "tier",
        "version",
    )

    def __init__(self) -> None:
        self.sums = pivot_sums()
        #: account → [last_ts, requests, harvest, mismatch, risky_ip, young, subnet tag,
        #: trust level of its latest observation, org tag, card tag], in the order their
        #: ``R_LAST`` was last moved (a record moves to the end): observations are applied
        #: in bucket order, so expiry looks at the front only (:meth:`expire`)
        self.accounts: dict[str, array[float]] = {}
        #: subnet tag → members whose last request here came from it
        self.subnets: dict[int, int] = {}
        #: org tag → members of that org here, and how many members have an org
        self.orgs: dict[int, int] = {}
        self.org_members = 0
        #: Running moments of the members' request counts (``R_N``).
        self.moments = CountMoments()
        self.last_ts = 0
        self.version = 0
        self.overflow: HyperLogLog | None = None
        #: Members whose record changed since a tick last looked at this pivot, and
        #: whether a tick has examined every member since the last links refresh.
        self.dirty: set[str] = set()
        self.scanned = False
        #: account → record count when it last failed the member gate here.
        self.failed: dict[str, int] = {}
        #: Members with a link out to the campaign stage → their request count, trust
        #: level, org tag and co-location flag here when their link was last sent (a
        #: refresh re-sends a link only if one of them changed), and those of them whose
        #: traffic here grew since.
        self.linked: dict[str, tuple[int, int, int, int]] = {}
        self.restat: set[str] = set()
        #: Members a hint went out for (harvest-like, no family of their own, on a pivot
        #: whose members nearly all are harvest-like): sent once per links refresh.
        self.hinted: set[str] = set()
        #: What the cohort's evidence made of this pivot at the last tick that scored
        #: it: 0 no links, 1 candidate links (one family), 2 links (suspicious).
        self.tier = 0
        #: That cohort's evidence had the proxy-pool family (its co-located members' links
        #: say so: the campaign stage's cluster ``pool`` family).
        self.pool = False

    def __getstate__(self) -> dict[str, object]:
        """Slots, with the member records packed into one array (a checkpoint pickles
        thousands of pivots: one array per member was most of their cost)."""
        state = {name: getattr(self, name) for name in self.__slots__}
        accounts = self.accounts
        packed = array("d")
        for rec in accounts.values():
            packed += rec
        state["accounts"] = (list(accounts), packed)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        keys: list[str]
        packed: array[float]
        keys, packed = state.pop("accounts")  # type: ignore[misc]
        w = _RECORD_FIELDS
        self.accounts = {k: packed[i * w : i * w + w] for i, k in enumerate(keys)}
        for name, value in state.items():
            setattr(self, name, value)

    @property
    def distinct_accounts(self) -> int:
        """Accounts seen in the 24 h view (approximate once past the exact-tracking cap)."""
        extra = len(self.overflow) if self.overflow is not None else 0
        return len(self.accounts) + extra

    @property
    def independent_accounts(self) -> int:
        """Members, with every org's counted once: an org's accounts sharing its payment
        method, office network or eval templates are one customer, not a cohort."""
        return self.distinct_accounts - self.org_members + len(self.orgs)

    def _move_org(self, old: int, new: int) -> None:
        orgs = self.orgs
        if old:
            left = orgs[old] - 1
            if left:
                orgs[old] = left
            else:
                del orgs[old]
            self.org_members -= 1
        if new:
            orgs[new] = orgs.get(new, 0) + 1
            self.org_members += 1

    def co_located(self, account: str) -> bool:
        """Does the member's last address block here carry another member too?"""
        rec = self.accounts.get(account)
        return rec is not None and self.subnets.get(int(rec[R_SUBNET]), 0) >= 2

    def _move_subnet(self, old: int | None, new: int) -> None:
        subnets = self.subnets
        if old is not None:
            left = subnets[old] - 1
            if left:
                subnets[old] = left
            else:
                del subnets[old]
        subnets[new] = subnets.get(new, 0) + 1

    def add(
        self,
        account: str,
        first_ms: int,
        last_ms: int,
        values: Sequence[int],
        subnet_tag: int,
        trust: int = 0,
        org_tag: int = 0,
        card_tag: int = 0,
    ) -> int:
        """Count one observation: ``values[F_REQ]`` requests between ``first_ms`` and
        ``last_ms`` (``COUNTED``, ``RESTARTED`` or ``UNTRACKED``)."""
        self.sums.add(last_ms, values)
        self.version += 1
        if last_ms > self.last_ts:
            self.last_ts = last_ms
        rec = self.accounts.get(account)
        if rec is None and len(self.accounts) >= MAX_PIVOT_ACCOUNTS:
            if self.overflow is None:
                self.overflow = HyperLogLog()
            self.overflow.add(account)
            return UNTRACKED
        self.dirty.add(account)
        k = values[F_REQ]
        if rec is None or rec[R_LAST] < first_ms - DAY_MS:
            if rec is None:
                self.moments.insert(k)
                self._move_subnet(None, subnet_tag)
                self._move_org(0, org_tag)
                how = COUNTED
            else:
                self.moments.replace(int(rec[R_N]), k)
                self._move_subnet(int(rec[R_SUBNET]), subnet_tag)
                self._move_org(int(rec[R_ORG]), org_tag)
                del self.accounts[account]  # to the end, as a new record
                how = RESTARTED
            self.accounts[account] = array(
                "d",
                (
                    last_ms,
                    k,
                    values[F_HARVEST],
                    values[F_MISMATCH],
                    values[F_RISKY],
                    values[F_YOUNG],
                    subnet_tag,
                    trust,
                    org_tag,
                    card_tag,
                ),
            )
            return how
        if last_ms >= rec[R_LAST]:
            rec[R_LAST] = last_ms
            accounts = self.accounts
            del accounts[account]  # to the end: the front holds the oldest
            accounts[account] = rec
            rec[R_TRUST] = trust
            rec[R_CARD] = card_tag
            if rec[R_SUBNET] != subnet_tag:
                self._move_subnet(int(rec[R_SUBNET]), subnet_tag)
                rec[R_SUBNET] = subnet_tag
            if rec[R_ORG] != org_tag:
                self._move_org(int(rec[R_ORG]), org_tag)
                rec[R_ORG] = org_tag
        n = int(rec[R_N])
        self.moments.replace(n, n + k)  # integer moments: exact at any size
        rec[R_N] = n + k
        rec[R_HARVEST] += values[F_HARVEST]
        rec[R_MISMATCH] += values[F_MISMATCH]
        rec[R_RISKY] += values[F_RISKY]
        rec[R_YOUNG] += values[F_YOUNG]
        return COUNTED

    def expire(self, now_ms: int, *, bucket_ms: int) -> list[str]:
        """Drop what left the 24 h view; returns the members whose records went.

        Observations must have been added in order of their ``bucket_ms`` buckets (each
        ``last_ms`` within the ``bucket_ms`` before its bucket's end): then a member's
        ``R_LAST`` is never more than ``bucket_ms`` ahead of a later member's, and the
        scan stops at the first record that far inside the view.
        """
        cutoff = now_ms - DAY_MS
        accounts = self.accounts
        stale: list[str] = []
        stop = cutoff + bucket_ms
        for a, rec in accounts.items():
            last = rec[R_LAST]
            if last >= stop:
                break
            if last < cutoff:
                stale.append(a)
        for a in stale:
            rec = accounts.pop(a)
            self.moments.remove(int(rec[R_N]))
            tag = int(rec[R_SUBNET])
            left = self.subnets[tag] - 1
            if left:
                self.subnets[tag] = left
            else:
                del self.subnets[tag]
            self._move_org(int(rec[R_ORG]), 0)
            self.dirty.discard(a)
            self.failed.pop(a, None)
        if (
            self.overflow is not None
            and self.sums.last_bucket_ms is not None
            and self.sums.last_bucket_ms < cutoff
        ):
            self.overflow = None
        self.sums.expire(now_ms=now_ms)
        return stale
