from __future__ import annotations

from app.tools.console.graph import indicator_graph


def test_indicators_shared_by_two_members_tie_them() -> None:
    links = {
        "a": {"payment:p1": 5, "subnet:s1": 1},
        "b": {"payment:p1": 2, "subnet:s2": 1},
        "c": {"subnet:s1": 4},
    }
    g = indicator_graph(["a", "b", "c", "d"], links)
    assert [n.id for n in g.indicators] == ["payment:p1", "subnet:s1"]
    assert {(e.account, e.indicator, e.requests) for e in g.edges} == {
        ("a", "payment:p1", 5),
        ("b", "payment:p1", 2),
        ("a", "subnet:s1", 1),
        ("c", "subnet:s1", 4),
    }
    assert g.omitted_indicators == 1 and g.members_without_links == 1
    accounts = {n.id: n for n in g.nodes if n.kind == "account"}
    assert accounts["a"].degree == 2 and set(accounts) == {"a", "b", "c"}
    assert all(n.x == 0.0 for n in accounts.values()) and all(n.x == 1.0 for n in g.indicators)


def test_every_kind_keeps_its_most_shared_indicators() -> None:
    members = [f"m{i}" for i in range(10)]
    links = {m: {f"template:t{j}": 1 for j in range(20)} for m in members}
    links["m0"]["payment:p"] = 1
    links["m1"]["payment:p"] = 1
    links["m2"]["template:rare"] = 1
    links["m3"]["template:rare"] = 1
    g = indicator_graph(members, links, per_kind=5)
    kinds = [n.kind for n in g.indicators]
    assert kinds.count("template") == 5 and "payment:p" in {n.id for n in g.indicators}
    assert "template:rare" not in {n.id for n in g.indicators}  # less shared than the kept five
    assert g.omitted_indicators == 22 - 6  # 21 templates + payment:p, 6 kept


def test_members_sit_next_to_their_indicators() -> None:
    links = {"a": {"payment:p": 1}, "b": {"tls:t": 1}, "c": {"payment:p": 1}, "d": {"tls:t": 1}}
    g = indicator_graph(["a", "b", "c", "d"], links)
    y = {n.id: n.y for n in g.nodes}
    assert y["payment:p"] > y["tls:t"]
    assert min(y["a"], y["c"]) > max(y["b"], y["d"])
