"""One Deal shared by threads: its calls are serialised, so the log never breaks a rule."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from _helpers import T0
from salesstages import (
    Deal,
    DealView,
    EventStore,
    JsonlStore,
    MemoryStore,
    OutOfOrderError,
    Pipeline,
    SqliteStore,
    Stage,
    TransitionRefused,
    guard,
)

STORES: dict[str, Callable[[Path], EventStore]] = {
    "memory": lambda _: MemoryStore(),
    "jsonl": lambda folder: JsonlStore(folder / "events.jsonl"),
    "sqlite": lambda folder: SqliteStore(folder / "events.db"),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    """Each of the three stores, in a scratch folder."""
    made = STORES[request.param](tmp_path)
    yield made
    close = getattr(made, "close", None)
    if close is not None:
        close()


def gated_pipeline(check: Callable[[DealView], bool], **flags: bool) -> Pipeline:
    """a → b (entry criteria: ``check``) → c → won / lost; a and c have sub-state x."""
    return Pipeline(
        "gated",
        [
            Stage("a", substates=("x",)),
            Stage("b", entry=guard("the gate is open")(check)),
            Stage("c", substates=("x",)),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        **flags,
    )


def test_win_while_a_guard_is_checked_waits_for_the_move(store: EventStore) -> None:
    """Thread A checks b's guard while thread B wins: B waits, so the win follows A's move.

    Without the deal's lock B wins during A's check and A then appends its move after
    the win: the store holds ``… won, b`` and loading the deal fails forever. The
    guard holds A inside the check until B's win returns (or 0.5 s pass, which is
    what happens when B has to wait), so the unserialised interleaving is forced
    on every run.
    """
    checking = threading.Event()
    won = threading.Event()

    def slow_gate(view: DealView) -> bool:
        if threading.current_thread().name == "A":
            checking.set()
            won.wait(0.5)
        return True

    pipeline = gated_pipeline(slow_gate)
    deal = pipeline.open_deal("D", at=T0, store=store)
    errors: list[BaseException] = []

    def run(call: Callable[[], object], done: threading.Event | None = None) -> None:
        try:
            call()
        except BaseException as exc:  # pragma: no cover - asserted empty below
            errors.append(exc)
        if done is not None:
            done.set()

    a = threading.Thread(target=run, args=(lambda: deal.move("b", at=T0),), name="A")
    a.start()
    assert checking.wait(5)
    b = threading.Thread(target=run, args=(lambda: deal.win(at=T0), won), name="B")
    b.start()
    a.join()
    b.join()
    assert errors == []
    loaded = pipeline.load_deal(store, "D")
    assert [e.stage for e in loaded.events] == [None, "a", "b", "won"]
    assert loaded == deal.pipeline.replay(store.events())["D"]
    assert deal.events == loaded.events
    assert deal.stage == "won"


def test_eight_threads_on_one_deal_with_a_slow_guard(store: EventStore) -> None:
    """8 threads drive one deal through moves, losses, reopenings and wins 20 times over;
    every log replays strictly and the live deal equals its replay."""

    def slow_gate(view: DealView) -> bool:
        time.sleep(0.001)
        return True

    pipeline = gated_pipeline(slow_gate, allow_regress=True)
    moves: list[Callable[[Deal], object]] = [
        lambda d: d.move("b", at=T0, by="thread"),
        lambda d: d.move("c", at=T0),
        lambda d: d.move("a", at=T0),
        lambda d: d.lose(at=T0, reason="price"),
        lambda d: d.reopen(at=T0, note="back"),
        lambda d: d.record("call", at=T0),
        lambda d: d.enter_substate("x", at=T0),
    ]
    unexpected: list[BaseException] = []
    refused: list[str] = []  # list.append is atomic; a shared counter += 1 is not

    def work(deal: Deal, start: threading.Barrier, seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(6):
            try:
                if rng.random() < 0.03:
                    deal.win(at=T0)
                else:
                    rng.choice(moves)(deal)
            except (TransitionRefused, OutOfOrderError) as exc:
                refused.append(type(exc).__name__)
            except BaseException as exc:  # pragma: no cover - asserted empty below
                unexpected.append(exc)

    for round_ in range(20):
        deal = pipeline.open_deal(f"D{round_}", at=T0, store=store)
        start = threading.Barrier(8)
        threads = [
            threading.Thread(target=work, args=(deal, start, round_ * 8 + w)) for w in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert unexpected == []
        loaded = pipeline.load_deal(store, deal.id)  # strict replay
        assert loaded.events == deal.events
        assert (loaded.state, loaded.lost_from) == (deal.state, deal.lost_from)
    assert pipeline.check(store.events()) == []
    # 20 rounds × 8 threads × 6 calls = 960 calls, each recorded once or refused
    recorded = sum(1 for e in store.events() if e.seq >= 2)
    assert recorded + len(refused) == 960
    assert 0 < len(refused) < 960


def test_handlers_of_one_deal_see_its_events_in_order_across_threads() -> None:
    """Handlers run under the deal's lock: with 4 threads writing one deal, every handler
    sees its events in seq order, each once."""
    pipeline = gated_pipeline(lambda view: True, allow_regress=True)
    seen: list[int] = []
    pipeline.subscribe(lambda deal, event: seen.append(event.seq))
    deal = pipeline.open_deal("D", at=T0)
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        for i in range(50):
            deal.record("call", at=T0, i=i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 2 opening events + 4 threads × 50 calls = 202 events, seq 0 … 201
    assert seen == list(range(202))
