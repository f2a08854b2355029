"""The pure statistics of ``salesstages._stats``, against hand-computed tables."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesstages._stats import (
    SingularMatrixError,
    aalen_johansen,
    absorbing_chain,
    greenwood_interval,
    invert,
    kaplan_meier,
    quantile_time,
    restricted_mean,
    solve,
    step_value,
    wilson_interval,
    z_value,
)

# Six deals, in days from opening: closed at 2, closed at 3, still open at 3
# (censored, tied with the closing at 3), closed at 5, open at 7, closed at 8.
#
#   t | at risk n | closed d | censored in [t, next t) | S(t) = S(t-) (1 - d/n)  | Greenwood Σ d/(n(n-d))
#   2 |     6     |    1     |           0             | 1   · 5/6 = 5/6         | 1/30
#   3 |     5     |    1     |   1 (the tie at 3)      | 5/6 · 4/5 = 2/3         | 1/30 + 1/20 = 1/12
#   5 |     3     |    1     |   1 (the one at 7)      | 2/3 · 2/3 = 4/9         | 1/12 + 1/6  = 1/4
#   8 |     1     |    1     |           0             | 4/9 · 0   = 0           | ∞ (n = d)
#
# The deal censored at 3 is still at risk at 3: censorings tied with an
# event count after it. The median is 5, the first time S ≤ 1/2.
KM_DURATIONS = [2.0, 3.0, 3.0, 5.0, 7.0, 8.0]
KM_OBSERVED = [True, True, False, True, False, True]

# The same deals with their outcomes: won at 2, lost at 3, won at 5, lost at 8.
#
#   t | n | S(t-) | won: F_w += S(t-)·d_w/n     | lost: F_l += S(t-)·d_l/n    | S(t)
#   2 | 6 |  1    | 1/6                          | 0                           | 5/6
#   3 | 5 |  5/6  | 1/6                          | 5/6 · 1/5 = 1/6             | 2/3
#   5 | 3 |  2/3  | 1/6 + 2/3 · 1/3 = 7/18       | 1/6                         | 4/9
#   8 | 1 |  4/9  | 7/18                         | 1/6 + 4/9 = 11/18           | 0
#
# and F_w + F_l = 1 - S at every row: 1/6, 1/3, 5/9, 1.
AJ_CAUSES = ["won", "lost", None, "won", None, "lost"]


class TestKaplanMeier:
    """Kaplan–Meier and Greenwood."""

    def test_hand_computed_table(self) -> None:
        """The six-deal table above, row by row."""
        km = kaplan_meier(KM_DURATIONS, KM_OBSERVED)
        assert km.times == (2.0, 3.0, 5.0, 8.0)
        assert km.at_risk == (6, 5, 3, 1)
        assert km.events == (1, 1, 1, 1)
        assert km.censored == (0, 1, 1, 0)
        assert km.survival == pytest.approx([5 / 6, 2 / 3, 4 / 9, 0.0])
        assert km.greenwood[:3] == pytest.approx([1 / 30, 1 / 12, 1 / 4])
        assert math.isinf(km.greenwood[3])
        assert km.total == 6
        assert quantile_time(km.times, km.survival) == 5.0

    def test_input_order_does_not_matter(self) -> None:
        """Shuffled input gives the same table."""
        order = [5, 2, 0, 4, 1, 3]
        km = kaplan_meier([KM_DURATIONS[i] for i in order], [KM_OBSERVED[i] for i in order])
        assert km == kaplan_meier(KM_DURATIONS, KM_OBSERVED)

    def test_censored_before_first_event_are_in_no_row(self) -> None:
        """Censorings before the first event lower the first risk set only."""
        km = kaplan_meier([1.0, 2.0, 4.0], [False, True, False])
        assert km.times == (2.0,)
        assert km.at_risk == (2,)
        assert km.censored == (1,)
        assert km.survival == (0.5,)

    def test_no_events(self) -> None:
        """All-censored input has an empty table and no median."""
        km = kaplan_meier([1.0, 2.0], [False, False])
        assert km.times == ()
        assert km.total == 2
        assert quantile_time(km.times, km.survival) is None

    def test_greenwood_interval_hand_computed(self) -> None:
        """The log(−log S) interval at t = 2: θ = log(−log 5/6), se = √(1/30)/|log 5/6|."""
        km = kaplan_meier(KM_DURATIONS, KM_OBSERVED)
        lower, upper = greenwood_interval(km, 0.95)
        log_s = math.log(5 / 6)
        theta = math.log(-log_s)
        se = math.sqrt(1 / 30) / abs(log_s)
        z = 1.959963984540054
        assert lower[0] == pytest.approx(math.exp(-math.exp(theta + z * se)))
        assert upper[0] == pytest.approx(math.exp(-math.exp(theta - z * se)))
        for lo, s, hi in zip(lower[:3], km.survival[:3], upper[:3], strict=True):
            assert 0.0 <= lo <= s <= hi <= 1.0
        assert (lower[3], upper[3]) == (0.0, 0.0)

    def test_wider_level_gives_wider_interval(self) -> None:
        """A 99% interval contains the 90% one."""
        km = kaplan_meier(KM_DURATIONS, KM_OBSERVED)
        lo90, hi90 = greenwood_interval(km, 0.90)
        lo99, hi99 = greenwood_interval(km, 0.99)
        assert all(a <= b for a, b in zip(lo99[:3], lo90[:3], strict=True))
        assert all(a >= b for a, b in zip(hi99[:3], hi90[:3], strict=True))

    def test_mismatched_lengths_refused(self) -> None:
        """Durations and flags of different lengths raise ValueError."""
        with pytest.raises(ValueError, match="same length"):
            kaplan_meier([1.0], [True, False])

    @pytest.mark.parametrize("bad", [-1.0, math.nan])
    def test_bad_durations_refused(self, bad: float) -> None:
        """A negative or NaN duration raises ValueError."""
        with pytest.raises(ValueError, match="non-negative"):
            kaplan_meier([1.0, bad], [True, True])


class TestSteps:
    """Step-function helpers."""

    def test_step_value(self) -> None:
        """The curve is right-continuous, with ``before`` before the first time."""
        times, values = [2.0, 3.0, 5.0], [0.8, 0.6, 0.4]
        assert step_value(times, values, 1.0, 1.0) == 1.0
        assert step_value(times, values, 2.0, 1.0) == 0.8
        assert step_value(times, values, 4.9, 1.0) == 0.6
        assert step_value(times, values, 9.0, 1.0) == 0.4

    def test_restricted_mean_hand_computed(self) -> None:
        """∫₀⁶ S = 2·1 + 1·5/6 + 2·2/3 + 1·4/9 for the six-deal table."""
        km = kaplan_meier(KM_DURATIONS, KM_OBSERVED)
        expected = 2 + 5 / 6 + 2 * 2 / 3 + 4 / 9
        assert restricted_mean(km.times, km.survival, 6.0) == pytest.approx(expected)
        assert restricted_mean(km.times, km.survival, 1.0) == pytest.approx(1.0)

    def test_restricted_mean_refuses_negative_tau(self) -> None:
        """A negative horizon raises ValueError."""
        with pytest.raises(ValueError, match="tau"):
            restricted_mean([], [], -1.0)

    def test_quantile_counts_exact_threshold(self) -> None:
        """A survival of exactly p counts as reaching p despite rounding."""
        assert quantile_time([1.0, 2.0], [5 / 6, (5 / 6) * (3 / 5)], 0.5) == 2.0


class TestAalenJohansen:
    """Cumulative incidence of competing outcomes."""

    def test_hand_computed_table(self) -> None:
        """The six deals with outcomes, row by row (table above)."""
        aj = aalen_johansen(KM_DURATIONS, AJ_CAUSES, ["won", "lost"])
        assert aj.times == (2.0, 3.0, 5.0, 8.0)
        assert aj.at_risk == (6, 5, 3, 1)
        assert aj.events == {"won": (1, 0, 1, 0), "lost": (0, 1, 0, 1)}
        assert aj.incidence["won"] == pytest.approx([1 / 6, 1 / 6, 7 / 18, 7 / 18])
        assert aj.incidence["lost"] == pytest.approx([0, 1 / 6, 1 / 6, 11 / 18])
        assert aj.survival == pytest.approx(kaplan_meier(KM_DURATIONS, KM_OBSERVED).survival)

    def test_cause_that_never_happens_has_a_flat_curve(self) -> None:
        """A declared cause without events has incidence 0 throughout."""
        aj = aalen_johansen([1.0, 2.0], ["won", None], ["won", "lost"])
        assert aj.incidence["lost"] == (0.0,)
        assert aj.incidence["won"] == (0.5,)

    def test_unknown_cause_refused(self) -> None:
        """A cause outside ``all_causes`` raises ValueError."""
        with pytest.raises(ValueError, match="not one of"):
            aalen_johansen([1.0], ["tied"], ["won", "lost"])

    def test_mismatched_lengths_refused(self) -> None:
        """Durations and causes of different lengths raise ValueError."""
        with pytest.raises(ValueError, match="same length"):
            aalen_johansen([1.0, 2.0], ["won"], ["won"])


samples = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=30).map(float),
        st.sampled_from(["won", "lost", None]),
    ),
    min_size=1,
    max_size=60,
)


@settings(deadline=None, max_examples=150)
@given(samples)
def test_km_properties(data: list[tuple[float, str | None]]) -> None:
    """KM survival is in [0, 1], non-increasing, and inside its Greenwood interval."""
    km = kaplan_meier([d for d, _ in data], [c is not None for _, c in data])
    prev = 1.0
    for s in km.survival:
        assert 0.0 <= s <= prev + 1e-15
        prev = s
    lower, upper = greenwood_interval(km)
    for lo, s, hi in zip(lower, km.survival, upper, strict=True):
        assert lo - 1e-12 <= s <= hi + 1e-12 or (lo, hi) == (0.0, 0.0)
    before_first = km.total - km.at_risk[0] if km.at_risk else km.total
    assert sum(km.events) + sum(km.censored) + before_first == len(data)


@settings(deadline=None, max_examples=150)
@given(samples)
def test_incidences_add_up_to_one_minus_km(data: list[tuple[float, str | None]]) -> None:
    """F_won + F_lost = 1 − S at every event time, and each F is non-decreasing in [0, 1]."""
    durations = [d for d, _ in data]
    aj = aalen_johansen(durations, [c for _, c in data], ["won", "lost"])
    km = kaplan_meier(durations, [c is not None for _, c in data])
    assert aj.times == km.times
    for i, s in enumerate(km.survival):
        assert aj.incidence["won"][i] + aj.incidence["lost"][i] == pytest.approx(1.0 - s, abs=1e-12)
    for cause in ("won", "lost"):
        curve = aj.incidence[cause]
        assert all(0.0 <= f <= 1.0 + 1e-12 for f in curve)
        assert all(a <= b + 1e-15 for a, b in itertools.pairwise(curve))


class TestLinearAlgebra:
    """Gauss–Jordan and the absorbing chain."""

    def test_four_state_chain_by_hand(self) -> None:
        """Transient A, B and absorbing W(on), L(ost), solved by hand.

        A → B 0.6, A → W 0.1, A → L 0.3;  B → A 0.2, B → W 0.5, B → L 0.3.
        Win:   w_A = 0.1 + 0.6 w_B, w_B = 0.5 + 0.2 w_A
               ⇒ w_A = 0.4 + 0.12 w_A ⇒ w_A = 0.4 / 0.88 = 5/11, w_B = 0.5 + 1/11 = 13/22.
        Loss:  l_A = 6/11, l_B = 9/22 (check: l_A = 0.3 + 0.6 · 9/22 = 12/22).
        Moves: m_A = 1 + 0.6 m_B, m_B = 1 + 0.2 m_A ⇒ m_A = 1.6/0.88 = 20/11, m_B = 15/11.
        N = (I − Q)⁻¹ = 1/0.88 · [[1, 0.6], [0.2, 1]] = [[25/22, 15/22], [5/22, 25/22]].
        """
        chain = absorbing_chain([[0.0, 0.6], [0.2, 0.0]], [[0.1, 0.3], [0.5, 0.3]])
        assert chain.absorption[0] == pytest.approx([5 / 11, 6 / 11])
        assert chain.absorption[1] == pytest.approx([13 / 22, 9 / 22])
        assert chain.expected_steps == pytest.approx([20 / 11, 15 / 11])
        assert chain.fundamental[0] == pytest.approx([25 / 22, 15 / 22])
        assert chain.fundamental[1] == pytest.approx([5 / 22, 25 / 22])

    def test_solve_with_pivoting(self) -> None:
        """A system whose first pivot is zero is solved exactly after a row swap."""
        x = solve([[0.0, 2.0], [3.0, 1.0]], [[4.0], [7.0]])
        assert x == [pytest.approx([5 / 3]), pytest.approx([2.0])]

    def test_invert_matches_fractions(self) -> None:
        """The inverse of a 3×3 matrix matches the exact rational inverse."""
        a = [[4.0, 7.0, 2.0], [3.0, 6.0, 1.0], [2.0, 5.0, 3.0]]
        inv = invert(a)
        # det = 4(18-5) - 7(9-2) + 2(15-12) = 52 - 49 + 6 = 9; adjugate / 9
        exact = [[13, -11, -5], [-7, 8, 2], [3, -6, 3]]
        for row, exact_row in zip(inv, exact, strict=True):
            assert row == pytest.approx([float(Fraction(v, 9)) for v in exact_row])

    def test_empty_system(self) -> None:
        """A 0×0 system has the empty solution."""
        assert solve([], []) == []
        chain = absorbing_chain([], [])
        assert chain.absorption == []
        assert chain.expected_steps == []

    def test_singular_refused(self) -> None:
        """A singular matrix raises SingularMatrixError."""
        with pytest.raises(SingularMatrixError, match="singular"):
            solve([[1.0, 2.0], [2.0, 4.0]], [[1.0], [2.0]])

    def test_closed_transient_class_is_singular(self) -> None:
        """A → B → A with no way out cannot be absorbed, so the solve refuses."""
        with pytest.raises(SingularMatrixError):
            absorbing_chain([[0.0, 1.0], [1.0, 0.0]], [[0.0], [0.0]])

    @pytest.mark.parametrize(
        ("a", "b", "match"),
        [
            ([[1.0, 2.0]], [[1.0]], "square"),
            ([[1.0]], [[1.0], [2.0]], "rows like a"),
            ([[1.0, 0.0], [0.0, 1.0]], [[1.0], [1.0, 2.0]], "same length"),
        ],
    )
    def test_solve_shape_errors(
        self, a: list[list[float]], b: list[list[float]], match: str
    ) -> None:
        """Mis-shaped inputs raise ValueError naming the problem."""
        with pytest.raises(ValueError, match=match):
            solve(a, b)

    @pytest.mark.parametrize(
        ("q", "r", "match"),
        [
            ([[0.5]], [[0.5], [0.1]], "same number of rows"),
            ([[0.5, 0.0]], [[0.5]], "square"),
            ([[0.5]], [[0.6]], "probability distribution"),
            ([[-0.1]], [[1.1]], "probability distribution"),
        ],
    )
    def test_chain_input_errors(
        self, q: list[list[float]], r: list[list[float]], match: str
    ) -> None:
        """A chain whose rows are not distributions, or mis-shaped, is refused."""
        with pytest.raises(ValueError, match=match):
            absorbing_chain(q, r)

    @settings(deadline=None, max_examples=100)
    @given(
        st.integers(min_value=1, max_value=6).flatmap(
            lambda n: st.lists(
                st.lists(st.integers(min_value=0, max_value=9), min_size=n + 2, max_size=n + 2),
                min_size=n,
                max_size=n,
            )
        )
    )
    def test_absorption_rows_sum_to_one(self, counts: list[list[int]]) -> None:
        """With every state able to leave, absorption probabilities are in [0, 1] and sum to 1."""
        n = len(counts)
        rows = []
        for row in counts:
            row = [*row[:-2], row[-2] + 1, row[-1]]  # every state reaches "won" directly
            total = sum(row)
            rows.append([c / total for c in row])
        chain = absorbing_chain([r[:n] for r in rows], [r[n:] for r in rows])
        for b, steps in zip(chain.absorption, chain.expected_steps, strict=True):
            assert all(-1e-12 <= p <= 1 + 1e-12 for p in b)
            assert sum(b) == pytest.approx(1.0)
            assert steps >= 1.0 - 1e-9


class TestWilson:
    """Wilson's score interval."""

    def test_hand_computed(self) -> None:
        """8 of 10 at 95%: centre (0.8 + z²/20)/(1 + z²/10), known bounds 0.4902 and 0.9433."""
        lo, hi = wilson_interval(8, 10)
        assert lo == pytest.approx(0.4902, abs=1e-4)
        assert hi == pytest.approx(0.9433, abs=1e-4)

    def test_extremes_stay_in_unit_interval(self) -> None:
        """0 of n and n of n give bounds inside [0, 1] touching the edge."""
        assert wilson_interval(0, 5)[0] == 0.0
        assert wilson_interval(5, 5)[1] == pytest.approx(1.0)
        assert 0.0 < wilson_interval(5, 5)[0] < 1.0

    @pytest.mark.parametrize(("k", "n", "match"), [(0, 0, "at least 1"), (3, 2, "between")])
    def test_bad_counts_refused(self, k: int, n: int, match: str) -> None:
        """n < 1 or successes outside [0, n] raise ValueError."""
        with pytest.raises(ValueError, match=match):
            wilson_interval(k, n)

    @pytest.mark.parametrize("level", [0.0, 1.0, 1.5, True])
    def test_bad_level_refused(self, level: float) -> None:
        """A level outside (0, 1) raises ValueError."""
        with pytest.raises(ValueError, match="level"):
            z_value(level)
