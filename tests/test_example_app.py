"""The worked example app (examples/sales_api): its JSON API end to end, through Flask's
test client, on the real PostgreSQL server of the test fixtures."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from salesstages import Event, PostgresStore
from salesstages.presets import inbound_b2b

pytest.importorskip(
    "flask", reason="the example app needs Flask: pip install flask (in the dev extra)"
)
APP_FILE = Path(__file__).resolve().parents[1] / "examples" / "sales_api" / "app.py"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _module() -> ModuleType:
    """examples/sales_api/app.py, imported under a name of its own."""
    name = "salesstages_example_sales_api"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, APP_FILE)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def at(days: float) -> str:
    """T0 plus ``days``, as the ISO 8601 text a client sends."""
    return (T0 + timedelta(days=days)).isoformat()


@pytest.fixture
def app(pg_conninfo: str, pg_table: str) -> Iterator[Any]:
    """The example app on a table of its own, its follower thread running."""
    flask_app = _module().create_app(pg_conninfo, table=pg_table)
    flask_app.config["TESTING"] = True
    yield flask_app
    flask_app.extensions["salesstages"]["close"]()


@pytest.fixture
def client(app: Any) -> Any:
    """Flask's test client for the app."""
    return app.test_client()


def _meeting(client: Any, deal: str, meeting: str, days: float) -> None:
    """Book a meeting and have both parties accept it (the inbound preset's entry criteria)."""
    for name, data in (
        ("meeting_booked", {"meeting": meeting}),
        ("meeting_accepted", {"meeting": meeting, "party": "prospect"}),
        ("meeting_accepted", {"meeting": meeting, "party": "rep"}),
    ):
        r = client.post(
            f"/deals/{deal}/activities", json={"name": name, "at": at(days), "data": data}
        )
        assert r.status_code == 201, r.get_json()


def _three_deals(client: Any) -> int:
    """A won at day 10 (via discovery and formal_proposal), B lost at day 2, C in discovery
    since day 4; returns the position of the last write."""
    for deal, amount in (("A", 40_000), ("B", 10_000), ("C", 25_000)):
        r = client.post("/deals", json={"id": deal, "amount": amount, "at": at(0)})
        assert r.status_code == 201, r.get_json()
    _meeting(client, "A", "discovery", 0.5)
    assert client.post("/deals/A/move", json={"to": "discovery", "at": at(1)}).status_code == 200
    r = client.post(
        "/deals/A/activities",
        json={"name": "document_sent", "at": at(2), "data": {"document": "proposal"}},
    )
    assert r.status_code == 201
    r = client.post(
        "/deals/A/move", json={"to": "formal_proposal", "at": at(3), "by": "ana", "note": "ok"}
    )
    assert r.status_code == 200
    assert client.post("/deals/A/win", json={"at": at(10), "by": "ana"}).status_code == 200
    r = client.post("/deals/B/lose", json={"reason": "no budget", "at": at(2), "by": "bo"})
    assert r.status_code == 200
    _meeting(client, "C", "discovery", 3)
    r = client.post("/deals/C/move", json={"to": "discovery", "at": at(4)})
    assert r.status_code == 200
    position: int = r.get_json()["position"]
    return position


def test_deals_move_through_the_api_and_the_events_keep_who_and_why(client: Any) -> None:
    """Opening, activities, moves, a win and a loss are stored with their extra data."""
    _three_deals(client)
    a = client.get("/deals/A").get_json()
    assert (a["stage"], a["outcome"], a["attributes"]) == ("closed_won", "won", {"amount": 40_000})
    moved = [e for e in a["events"] if e["kind"] == "stage_entered"]
    assert [e["stage"] for e in moved] == [
        "inbound_lead",
        "discovery",
        "formal_proposal",
        "closed_won",
    ]
    assert moved[2]["data"] == {"by": "ana", "note": "ok"}
    assert moved[2]["at"] == "2026-03-05T09:00:00+00:00"
    b = client.get("/deals/B").get_json()
    assert (b["outcome"], b["events"][-1]["data"]) == ("lost", {"reason": "no budget", "by": "bo"})
    c = client.get("/deals/C").get_json()
    assert (c["stage"], len(c["events"])) == ("discovery", 6)  # opened, entered, 3 meetings, moved


def test_metrics_are_computed_from_the_log(client: Any) -> None:
    """Funnel, win rate and stage durations of the three deals, computed by hand."""
    _three_deals(client)
    m = client.get("/metrics").get_json()
    funnel = {row["stage"]: row for row in m["funnel"]}
    # inbound_lead: A, B, C; discovery: A, C; later stages: A only (imputed through its skip)
    assert [row["reached"] for row in m["funnel"]] == [3, 2, 1, 1, 1, 1]
    assert funnel["inbound_lead"]["conversion_rate"] == pytest.approx(2 / 3)
    assert funnel["discovery"]["conversion_rate"] == 0.5  # 1 of 2 went on
    assert funnel["formal_proposal"]["conversion_rate"] == 1.0  # A won
    assert funnel["inbound_lead"]["win_rate"] == 0.5  # A won, B lost
    assert funnel["discovery"]["win_rate"] == 1.0  # A won, C open
    assert m["win_rate"] == {"won": 1, "closed": 2, "rate": 0.5}
    day = 86_400.0
    lead = m["stage_durations_seconds"]["inbound_lead"]
    # completed visits 1, 2 and 4 days (A, B, C): mean 7/3 days, median 2 days
    assert lead["count"] == 3
    assert lead["mean"] == pytest.approx(7 / 3 * day)
    assert lead["median"] == 2 * day
    discovery = m["stage_durations_seconds"]["discovery"]
    assert (discovery["count"], discovery["open_count"], discovery["mean"]) == (1, 1, 2 * day)
    assert m["stage_durations_seconds"]["formal_proposal"]["mean"] == 7 * day  # day 3 to 10


def test_the_follower_projection_lists_open_deals_per_stage(
    pg_conninfo: str, pg_table: str, client: Any
) -> None:
    """The background follower's projection shows the open deals per stage after a write,
    including deals another process wrote straight to the store."""
    position = _three_deals(client)
    view = client.get(f"/pipeline/open?after={position}").get_json()
    assert view["caught_up"] is True
    assert view["position"] >= position
    assert view["stages"]["discovery"] == ["C"]
    assert view["counts"] == {
        "inbound_lead": 0,
        "discovery": 1,
        "evaluation": 0,
        "solution_overview": 0,
        "solution_refinement": 0,
        "formal_proposal": 0,
    }
    # another worker, its own store object, writes a deal: the follower picks it up
    other = PostgresStore(pg_conninfo, table=pg_table)
    inbound_b2b().open_deal("D", store=other, at=T0)
    view = client.get(f"/pipeline/open?after={len(other)}").get_json()
    assert view["stages"]["inbound_lead"] == ["D"]
    assert view["counts"]["inbound_lead"] == 1


def test_errors_map_to_http_statuses(client: Any) -> None:
    """Refused moves and lost races are 409, unknown deals 404, bad data and unknown
    stages 422, each with a JSON message; nothing is written by a refused call."""
    assert client.post("/deals", json={"id": "A", "at": at(0)}).status_code == 201
    r = client.post("/deals/A/move", json={"to": "discovery", "at": at(1)})
    assert r.status_code == 409
    body = r.get_json()
    assert body["type"] == "TransitionRefused"
    assert body["reasons"] == ["meeting 'discovery' has not been booked"]
    r = client.post("/deals", json={"id": "A", "at": at(0)})  # opened already: seq 0 taken
    assert (r.status_code, r.get_json()["type"]) == (409, "ConcurrencyError")
    r = client.post("/deals/A/move", json={"to": "negotiation"})
    assert (r.status_code, r.get_json()["type"]) == (422, "UnknownStageError")
    assert "negotiation" in r.get_json()["error"]
    r = client.get("/deals/NOPE")
    assert (r.status_code, r.get_json()["type"]) == (404, "UnknownDealError")
    for bad in (
        {"to": "discovery", "at": "2026-03-02T10:00:00"},  # no offset
        {"to": "discovery", "at": "yesterday"},
        {"to": "discovery", "at": at(-1)},  # before the deal's last event
        {"at": at(1)},  # no target
    ):
        r = client.post("/deals/A/move", json=bad)
        assert r.status_code == 422, (bad, r.get_json())
    r = client.post("/deals/A/lose", json={"at": at(1)})
    assert (r.status_code, r.get_json()["error"]) == (
        422,
        "the request body needs 'reason': a non-empty string",
    )
    r = client.post("/deals", data="[1, 2]", content_type="application/json")
    assert (r.status_code, r.get_json()["type"]) == (422, "DataError")
    r = client.post("/deals/A/activities", json={"name": "call", "extra": 1})  # not in data
    assert r.status_code == 422
    assert client.get("/pipeline/open?after=x").status_code == 422
    assert client.get("/nowhere").status_code == 404
    assert [e["kind"] for e in client.get("/deals/A").get_json()["events"]] == [
        "opened",
        "stage_entered",
    ]


def test_a_lost_race_is_a_409(app: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write on a copy of the deal that another request changed meanwhile is refused with
    409 (reload and retry), and the other request's change stays."""
    assert client.post("/deals", json={"id": "A", "at": at(0)}).status_code == 201
    store = app.extensions["salesstages"]["store"]
    pipeline = app.extensions["salesstages"]["pipeline"]
    stale = pipeline.load_deal(store, "A")
    r = client.post("/deals/A/activities", json={"name": "call", "at": at(1)})
    assert r.status_code == 201
    monkeypatch.setattr(type(pipeline), "load_deal", lambda _self, _store, _deal_id: stale)
    r = client.post("/deals/A/lose", json={"reason": "price", "at": at(2)})
    assert (r.status_code, r.get_json()["type"]) == (409, "ConcurrencyError")
    assert "reload the deal and retry" in r.get_json()["error"]
    monkeypatch.undo()
    assert [e.name for e in store.events("A")][-1] == "call"


def test_the_conninfo_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a conninfo argument the app reads SALES_DB, and says so when it is unset."""
    monkeypatch.delenv("SALES_DB", raising=False)
    with pytest.raises(RuntimeError, match="set SALES_DB to the database's libpq conninfo"):
        _module().create_app()


def test_the_app_holds_no_machine_specifics() -> None:
    """The example's files name no host, port or credentials: those come from SALES_DB."""
    files = sorted(p for p in APP_FILE.parent.iterdir() if p.suffix in (".py", ".md"))
    assert [p.name for p in files] == ["README.md", "app.py"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "127.0.0.1" not in text
        assert "password=" not in text.lower()
        assert re.search(r"postgres(ql)?://[^/\s]*:[^/\s]*@", text) is None  # user:secret@


def test_events_round_trip_through_the_api(client: Any) -> None:
    """An event's JSON from the API rebuilds the stored event with ``Event.from_dict``."""
    assert client.post("/deals", json={"id": "A", "at": at(0), "source": "web"}).status_code == 201
    got = client.get("/deals/A").get_json()["events"]
    assert Event.from_dict(got[0]).data == {"source": "web"}
