"""A JSON API over salesstages on PostgreSQL, with a follower-driven projection (Flask).

Run it (the conninfo comes from the environment, never from the code)::

    export SALES_DB="host=localhost dbname=crm user=app"
    flask --app app run

Routes:

- ``POST /deals`` ``{"id": "ACME-1", "amount": 12000, ...}``: open a deal (201);
- ``GET /deals/<id>``: the deal, its stage and its events;
- ``POST /deals/<id>/activities`` ``{"name": "meeting_booked", "data": {...}}``;
- ``POST /deals/<id>/move`` ``{"to": "discovery", "by": "ana", ...}``;
- ``POST /deals/<id>/win`` and ``/lose`` ``{"reason": "price", "by": "bo", ...}``;
- ``GET /metrics``: funnel, win rate and stage durations, from the whole log;
- ``GET /pipeline/open[?after=N]``: the open deals per stage, kept by a
  background thread that follows the store; ``after`` waits (up to 5 s) until
  the projection has applied position ``N``, which every write returns, so a
  client reads its own writes.

Every request body field that is not the route's own (``to``, ``reason``,
``at``) is stored with the event (who, why, a note). ``at`` is optional (ISO
8601 with an offset); without it the time is the server's clock. Errors are
JSON ``{"error": ...}``: 404 unknown deal, 409 refused move (with the
verdict's ``reasons``) or lost race (reload and retry), 422 bad data or
unknown stage, 503 database unreachable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from salesstages import (
    ConcurrencyError,
    DataError,
    Deal,
    Event,
    EventStore,
    NaiveTimeError,
    OutOfOrderError,
    Pipeline,
    PostgresStore,
    SalesStagesError,
    StoreUnavailableError,
    TransitionRefused,
    UnknownDealError,
    UnknownStageError,
    metrics,
)
from salesstages.presets import inbound_b2b

#: The environment variable holding the libpq conninfo of the database.
CONNINFO_ENV = "SALES_DB"
log = logging.getLogger("sales_api")


class OpenDeals:
    """Open deals per stage, kept up to date by a thread that follows the store.

    It starts from position 0 (the log has every event, so the projection is
    rebuilt on each start) and applies each event in position order. For a
    projection that survives restarts, see the how-to "Keep a projection with
    follow" (it saves the position with each change).
    """

    def __init__(self, store: EventStore, pipeline: Pipeline, *, poll: float = 0.5) -> None:
        self.store = store
        self.pipeline = pipeline
        self.poll = poll
        self.position = 0
        self.stage_of: dict[str, str] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="open-deals", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                # idle_timeout: come back now and then to see whether we should stop
                for position, event in self.store.follow(
                    self.position, poll=self.poll, idle_timeout=1.0
                ):
                    self._apply(position, event)
                    if self._stop.is_set():
                        return
            except StoreUnavailableError as exc:  # the database restarts: wait, follow again
                log.warning("following the store failed, retrying: %s", exc)
                self._stop.wait(1.0)

    def _apply(self, position: int, event: Event) -> None:
        with self._changed:
            if event.kind == "stage_entered" and event.stage is not None:
                if self.pipeline.stage(event.stage).is_open:
                    self.stage_of[event.deal_id] = event.stage
                else:
                    self.stage_of.pop(event.deal_id, None)
            self.position = position
            self._changed.notify_all()

    def read(self, after: int = 0, timeout: float = 5.0) -> dict[str, Any]:
        """The open deals per stage, once the projection has applied position ``after``."""
        with self._changed:
            self._changed.wait_for(lambda: self.position >= after, timeout)
            per_stage: dict[str, list[str]] = {s.name: [] for s in self.pipeline.open_stages}
            for deal_id, stage in self.stage_of.items():
                per_stage[stage].append(deal_id)
            return {
                "position": self.position,
                "caught_up": self.position >= after,
                "stages": {s: sorted(ids) for s, ids in per_stage.items()},
                "counts": {s: len(ids) for s, ids in per_stage.items()},
            }


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and not request.data:
        return {}
    if not isinstance(body, dict):
        raise DataError("the request body must be a JSON object")
    return body


def _at(body: dict[str, Any]) -> datetime | None:
    value = body.pop("at", None)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise DataError(f"at must be an ISO 8601 time with an offset, got {value!r}") from None


def _text(body: dict[str, Any], key: str) -> str:
    value = body.pop(key, None)
    if not isinstance(value, str) or not value:
        raise DataError(f"the request body needs {key!r}: a non-empty string")
    return value


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def create_app(
    conninfo: str | None = None,
    *,
    table: str = "salesstages_events",
    pipeline: Pipeline | None = None,
    follow: bool = True,
) -> Flask:
    """The Flask app on the database of ``conninfo`` (default: the ``SALES_DB`` variable)."""
    conninfo = conninfo or os.environ.get(CONNINFO_ENV)
    if not conninfo:
        raise RuntimeError(
            f"set {CONNINFO_ENV} to the database's libpq conninfo, "
            'e.g. "host=localhost dbname=crm user=app"'
        )
    pipeline = pipeline or inbound_b2b()
    store = PostgresStore(conninfo, table=table)
    follower_store = PostgresStore(conninfo, table=table)  # its own connection
    open_deals = OpenDeals(follower_store, pipeline)
    if follow:
        open_deals.start()

    app = Flask(__name__)
    app.extensions["salesstages"] = {"store": store, "pipeline": pipeline, "open": open_deals}

    def deal_json(deal: Deal, status: int = 200) -> tuple[Response, int]:
        return jsonify(
            {
                "id": deal.id,
                "stage": deal.stage,
                "substate": deal.substate,
                "outcome": deal.outcome,
                "attributes": dict(deal.attributes),
                "events": [e.to_dict() for e in deal.events],
                "position": len(store),  # >= this write's: pass it to /pipeline/open?after=
            }
        ), status

    @app.post("/deals")
    def open_deal() -> tuple[Response, int]:
        body = _body()
        deal_id = _text(body, "id")
        at = _at(body)
        stage = body.pop("stage", None)
        return deal_json(pipeline.open_deal(deal_id, store=store, at=at, stage=stage, **body), 201)

    @app.get("/deals/<deal_id>")
    def get_deal(deal_id: str) -> tuple[Response, int]:
        return deal_json(pipeline.load_deal(store, deal_id))

    @app.post("/deals/<deal_id>/activities")
    def record(deal_id: str) -> tuple[Response, int]:
        body = _body()
        name = _text(body, "name")
        at = _at(body)
        data = body.pop("data", {})
        if not isinstance(data, dict) or body:
            raise DataError('an activity body is {"name": ..., "at": ..., "data": {...}}')
        deal = pipeline.load_deal(store, deal_id)
        deal.record(name, at=at, **data)
        return deal_json(deal, 201)

    @app.post("/deals/<deal_id>/move")
    def move(deal_id: str) -> tuple[Response, int]:
        body = _body()
        to = _text(body, "to")
        at = _at(body)
        deal = pipeline.load_deal(store, deal_id)
        deal.move(to, at=at, **body)
        return deal_json(deal)

    @app.post("/deals/<deal_id>/win")
    def win(deal_id: str) -> tuple[Response, int]:
        body = _body()
        at = _at(body)
        deal = pipeline.load_deal(store, deal_id)
        deal.win(at=at, **body)
        return deal_json(deal)

    @app.post("/deals/<deal_id>/lose")
    def lose(deal_id: str) -> tuple[Response, int]:
        body = _body()
        reason = _text(body, "reason")
        at = _at(body)
        deal = pipeline.load_deal(store, deal_id)
        deal.lose(at=at, reason=reason, **body)
        return deal_json(deal)

    @app.get("/metrics")
    def pipeline_metrics() -> Response:
        folded = metrics.histories(store.events(), pipeline)
        rate = metrics.win_rate(folded, pipeline)
        durations = metrics.stage_durations(folded, pipeline)
        return jsonify(
            {
                "funnel": [
                    {
                        "stage": row.stage,
                        "reached": row.reached,
                        "conversion_rate": row.conversion_rate,
                        "win_rate": row.win_rate,
                    }
                    for row in metrics.funnel(folded, pipeline)
                ],
                "win_rate": {"won": rate.numerator, "closed": rate.denominator, "rate": rate.rate},
                "stage_durations_seconds": {
                    stage: {
                        "count": d.count,
                        "open_count": d.open_count,
                        "mean": _seconds(d.mean),
                        "median": _seconds(d.median),
                        "p90": _seconds(d.p90),
                    }
                    for stage, d in durations.items()
                },
            }
        )

    @app.get("/pipeline/open")
    def open_per_stage() -> Response:
        after = request.args.get("after", "0")
        if not after.isdigit():
            raise DataError(f"after must be a position (0, 1, 2 ...), got {after!r}")
        return jsonify(open_deals.read(int(after)))

    def error(status: int, exc: BaseException, **extra: Any) -> tuple[Response, int]:
        return jsonify({"error": str(exc), "type": type(exc).__name__, **extra}), status

    @app.errorhandler(SalesStagesError)
    def library_error(exc: SalesStagesError) -> tuple[Response, int]:
        if isinstance(exc, TransitionRefused):
            return error(409, exc, reasons=list(exc.verdict.reasons))
        if isinstance(exc, ConcurrencyError):  # another request changed the deal: retry
            return error(409, exc)
        if isinstance(exc, UnknownDealError):
            return error(404, exc)
        if isinstance(exc, UnknownStageError | DataError | NaiveTimeError | OutOfOrderError):
            return error(422, exc)
        if isinstance(exc, StoreUnavailableError):
            return error(503, exc)
        return error(400, exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return error(exc.code or 500, exc)

    def close() -> None:
        open_deals.stop()
        with contextlib.suppress(Exception):
            store.close()
            follower_store.close()

    app.extensions["salesstages"]["close"] = close
    return app
