"""Pure statistics behind the forecasts, free of events and pipelines.

Everything here works on plain floats and sequences so that it can be tested
on its own against hand-computed tables: Kaplan–Meier with Greenwood's
variance, the Aalen–Johansen cumulative incidence of competing outcomes, a
Gauss–Jordan solver for the absorbing Markov chain, and Wilson's interval for
a proportion. Nothing here needs numpy; pipelines have tens of stages, not
thousands, so small dense linear algebra in pure Python is fast enough.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from statistics import NormalDist
from typing import Final, Generic, TypeVar

import attrs

__all__ = [
    "AalenJohansen",
    "AbsorbingChain",
    "KaplanMeier",
    "SingularMatrixError",
    "aalen_johansen",
    "absorbing_chain",
    "greenwood_interval",
    "invert",
    "kaplan_meier",
    "quantile_time",
    "restricted_mean",
    "solve",
    "step_value",
    "wilson_interval",
    "z_value",
]

C = TypeVar("C", bound=Hashable)

#: Tolerance when comparing a survival probability with a threshold, so that a
#: product such as 5/6 × 3/5 that should be exactly 0.5 still counts as 0.5.
_EPS: Final = 1e-12
#: A pivot smaller than this (relative to the matrix's largest entry) is zero.
_PIVOT_EPS: Final = 1e-12


class SingularMatrixError(ValueError):
    """A linear system has no unique solution (a pivot vanished)."""


def z_value(level: float) -> float:
    """The two-sided standard normal quantile for a confidence ``level`` in (0, 1).

    >>> round(z_value(0.95), 4)
    1.96
    """
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0.0 < level < 1.0:
        raise ValueError(f"level must be a number strictly between 0 and 1, got {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


# ---------------------------------------------------------------- Kaplan–Meier
@attrs.frozen(kw_only=True)
class KaplanMeier:
    """A Kaplan–Meier table, one row per distinct event time.

    Attributes:
        times: The distinct times at which at least one event happened, ascending.
        at_risk: Subjects still at risk just before each time (duration ≥ time).
        events: Events at each time.
        censored: Subjects censored at or after each time and before the
            next one, so that ``at_risk[i + 1] == at_risk[i] - events[i] -
            censored[i]``. A censoring tied with an event time counts at that
            time: the subject was at risk there. Censorings before the first
            event time appear in no row (``total - at_risk[0]`` of them).
        survival: S just after each time.
        greenwood: Greenwood's running sum Σ dᵢ / (nᵢ (nᵢ − dᵢ)); the variance
            of S is ``survival² × greenwood`` (infinite once S reaches 0).
        total: Number of subjects.
    """

    times: tuple[float, ...]
    at_risk: tuple[int, ...]
    events: tuple[int, ...]
    censored: tuple[int, ...]
    survival: tuple[float, ...]
    greenwood: tuple[float, ...]
    total: int


def _check_lengths(durations: Sequence[float], other: Sequence[object], name: str) -> None:
    if len(durations) != len(other):
        raise ValueError(
            f"durations and {name} must have the same length, got {len(durations)} and {len(other)}"
        )


def _check_durations(durations: Sequence[float]) -> None:
    for d in durations:
        if math.isnan(d) or d < 0:
            raise ValueError(f"durations must be non-negative numbers, got {d!r}")


def kaplan_meier(durations: Sequence[float], observed: Sequence[bool]) -> KaplanMeier:
    """Kaplan–Meier estimate from ``durations`` and whether each one ended in an event.

    ``observed[i]`` is False for a right-censored subject. A subject censored
    at the same time as an event is still at risk at that time (the usual
    convention, and lifelines').
    """
    _check_lengths(durations, observed, "observed")
    _check_durations(durations)
    # sort indices, not (duration, flag) pairs: ints are not tracked by the
    # garbage collector, so a big sort does not set off full collections
    # sort indices, not (duration, flag) pairs: ints are not tracked by the
    # garbage collector, so a big sort does not set off full collections
    order = sorted(range(len(durations)), key=durations.__getitem__)
    sd = [durations[k] for k in order]
    so = [bool(observed[k]) for k in order]
    n = len(order)
    times: list[float] = []
    at_risk: list[int] = []
    events: list[int] = []
    censored: list[int] = []
    survival: list[float] = []
    greenwood: list[float] = []
    s = 1.0
    gw = 0.0
    i = 0
    while i < n:
        t = sd[i]
        j = i + 1
        while j < n and sd[j] == t:
            j += 1
        d = so[i:j].count(True)
        if d:
            risk = n - i
            s *= 1.0 - d / risk
            gw = gw + d / (risk * (risk - d)) if risk > d else math.inf
            times.append(t)
            at_risk.append(risk)
            events.append(d)
            censored.append(j - i - d)
            survival.append(s)
            greenwood.append(gw)
        elif censored:
            censored[-1] += j - i  # censored after this event time, before the next one
        i = j
    return KaplanMeier(
        times=tuple(times),
        at_risk=tuple(at_risk),
        events=tuple(events),
        censored=tuple(censored),
        survival=tuple(survival),
        greenwood=tuple(greenwood),
        total=n,
    )


def greenwood_interval(
    km: KaplanMeier, level: float = 0.95
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Pointwise confidence bounds for S at each of ``km.times``.

    Greenwood's variance on the log(−log S) scale (the "exponential Greenwood"
    interval, which stays inside [0, 1]; lifelines' default):
    θ = log(−log S), se(θ) = √greenwood / |log S|, bounds exp(−exp(θ ± z·se)).
    Where S reaches 0 the interval collapses to (0, 0).
    """
    z = z_value(level)
    lower: list[float] = []
    upper: list[float] = []
    for s, gw in zip(km.survival, km.greenwood, strict=True):
        if s <= 0.0 or math.isinf(gw):
            lower.append(0.0)
            upper.append(0.0)
            continue
        if s >= 1.0:  # pragma: no cover - an event time always lowers S below 1
            lower.append(1.0)
            upper.append(1.0)
            continue
        log_s = math.log(s)
        theta = math.log(-log_s)
        se = math.sqrt(gw) / abs(log_s)
        lower.append(math.exp(-math.exp(theta + z * se)))
        upper.append(math.exp(-math.exp(theta - z * se)))
    return tuple(lower), tuple(upper)


def step_value(times: Sequence[float], values: Sequence[float], t: float, before: float) -> float:
    """The right-continuous step function through ``(times, values)`` at ``t``.

    ``before`` is its value before the first time.
    """
    lo, hi = 0, len(times)
    while lo < hi:  # bisect_right by hand: times may be any ordered numbers
        mid = (lo + hi) // 2
        if times[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return values[lo - 1] if lo else before


def quantile_time(
    times: Sequence[float], survival: Sequence[float], p: float = 0.5
) -> float | None:
    """The first time at which the survival curve is at or below ``p``; None if never."""
    for t, s in zip(times, survival, strict=True):
        if s <= p + _EPS:
            return t
    return None


def restricted_mean(times: Sequence[float], survival: Sequence[float], tau: float) -> float:
    """∫₀^τ S(t) dt for the step curve starting at S = 1 (the restricted mean time)."""
    if tau < 0:
        raise ValueError(f"tau must be non-negative, got {tau!r}")
    area = 0.0
    prev_t = 0.0
    s = 1.0
    for t, s_next in zip(times, survival, strict=True):
        if t >= tau:
            break
        area += s * (t - prev_t)
        prev_t, s = t, s_next
    return area + s * (tau - prev_t)


# -------------------------------------------------------------- Aalen–Johansen
@attrs.frozen(kw_only=True)
class AalenJohansen(Generic[C]):
    """Cumulative incidence of competing outcomes, one row per distinct event time.

    Attributes:
        times: Distinct times with at least one event of any cause, ascending.
        at_risk: Subjects at risk just before each time.
        events: For each cause, its events at each time.
        incidence: For each cause, the cumulative incidence just after each
            time: Fₖ(t) = Σ_{tᵢ ≤ t} S(tᵢ−) · dₖᵢ / nᵢ.
        survival: The all-cause Kaplan–Meier S just after each time, so that
            Σₖ Fₖ(t) = 1 − S(t).
        total: Number of subjects.
    """

    times: tuple[float, ...]
    at_risk: tuple[int, ...]
    events: Mapping[C, tuple[int, ...]]
    incidence: Mapping[C, tuple[float, ...]]
    survival: tuple[float, ...]
    total: int


def aalen_johansen(
    durations: Sequence[float], causes: Sequence[C | None], all_causes: Sequence[C]
) -> AalenJohansen[C]:
    """Aalen–Johansen cumulative incidence; ``causes[i]`` is None for a censored subject.

    ``all_causes`` fixes which causes get a curve (and their order), even
    those that never happen in the data.
    """
    _check_lengths(durations, causes, "causes")
    _check_durations(durations)
    known = set(all_causes)
    for c in causes:
        if c is not None and c not in known:
            raise ValueError(f"cause {c!r} is not one of {list(all_causes)!r}")
    code = {c: i for i, c in enumerate(all_causes, start=1)}
    order = sorted(range(len(durations)), key=durations.__getitem__)
    sd = [durations[k] for k in order]
    sc = [0 if cause is None else code[cause] for cause in (causes[k] for k in order)]
    n = len(order)
    m = len(all_causes)
    times: list[float] = []
    at_risk: list[int] = []
    ev: list[list[int]] = [[] for _ in range(m + 1)]
    inc: list[list[float]] = [[] for _ in range(m + 1)]
    cum = [0.0] * (m + 1)
    counts = [0] * (m + 1)
    survival: list[float] = []
    s = 1.0
    i = 0
    while i < n:
        t = sd[i]
        j = i + 1
        while j < n and sd[j] == t:
            j += 1
        if j == i + 1:  # no tie, the usual case with exact timestamps
            if not sc[i]:
                i = j
                continue
            counts[sc[i]] = 1
            d = 1
        else:
            for x in sc[i:j]:
                counts[x] += 1
            d = j - i - counts[0]
            counts[0] = 0
            if not d:
                i = j
                continue
        risk = n - i
        times.append(t)
        at_risk.append(risk)
        for x in range(1, m + 1):
            k = counts[x]
            if k:
                cum[x] += s * k / risk
                counts[x] = 0
            ev[x].append(k)
            inc[x].append(cum[x])
        s *= 1.0 - d / risk
        survival.append(s)
        i = j
    return AalenJohansen(
        times=tuple(times),
        at_risk=tuple(at_risk),
        events={c: tuple(ev[i]) for c, i in code.items()},
        incidence={c: tuple(inc[i]) for c, i in code.items()},
        survival=tuple(survival),
        total=n,
    )


# ------------------------------------------------------------ linear algebra
def solve(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> list[list[float]]:
    """Solve ``a · x = b`` for ``x`` by Gauss–Jordan elimination with partial pivoting.

    ``a`` is n×n and ``b`` is n×m (several right-hand sides at once; pass the
    identity to get the inverse). Raises :class:`SingularMatrixError` when
    ``a`` is singular.
    """
    n = len(a)
    if any(len(row) != n for row in a):
        raise ValueError(f"a must be square, got {n} rows of lengths {[len(r) for r in a]}")
    if len(b) != n:
        raise ValueError(f"b must have {n} rows like a, got {len(b)}")
    m = len(b[0]) if n else 0
    if any(len(row) != m for row in b):
        raise ValueError("every row of b must have the same length")
    aug = [[float(x) for x in a[i]] + [float(x) for x in b[i]] for i in range(n)]
    scale = max((abs(x) for row in a for x in row), default=0.0)
    tiny = _PIVOT_EPS * (scale or 1.0)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(aug[r][col]))
        if abs(aug[pivot][col]) <= tiny:
            raise SingularMatrixError(f"the matrix is singular (no pivot in column {col})")
        if pivot != col:
            aug[col], aug[pivot] = aug[pivot], aug[col]
        prow = aug[col]
        inv = 1.0 / prow[col]
        for k in range(col, n + m):
            prow[k] *= inv
        for r in range(n):
            if r == col:
                continue
            row = aug[r]
            f = row[col]
            if f != 0.0:
                for k in range(col, n + m):
                    row[k] -= f * prow[k]
    return [row[n:] for row in aug]


def invert(a: Sequence[Sequence[float]]) -> list[list[float]]:
    """The inverse of the square matrix ``a`` (Gauss–Jordan)."""
    n = len(a)
    return solve(a, [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)])


@attrs.frozen(kw_only=True)
class AbsorbingChain:
    """The solved absorbing Markov chain.

    Attributes:
        fundamental: N = (I − Q)⁻¹; N[i][j] is the expected number of visits
            to transient state j starting from i.
        absorption: B = N · R; B[i][k] is the probability of ending in
            absorbing state k starting from transient state i.
        expected_steps: t = N · 1; the expected number of moves until absorption.
    """

    fundamental: list[list[float]]
    absorption: list[list[float]]
    expected_steps: list[float]


def absorbing_chain(q: Sequence[Sequence[float]], r: Sequence[Sequence[float]]) -> AbsorbingChain:
    """Solve the chain whose transient-to-transient block is ``q`` and transient-to-absorbing ``r``.

    Each row of ``[q | r]`` must be a probability distribution. Raises
    :class:`SingularMatrixError` when some transient state cannot reach an
    absorbing one.
    """
    n = len(q)
    if len(r) != n:
        raise ValueError(f"q and r must have the same number of rows, got {n} and {len(r)}")
    for i in range(n):
        if len(q[i]) != n:
            raise ValueError(f"q must be square; row {i} has {len(q[i])} entries, not {n}")
        total = math.fsum(q[i]) + math.fsum(r[i])
        if any(x < 0 for x in q[i]) or any(x < 0 for x in r[i]) or abs(total - 1.0) > 1e-9:
            raise ValueError(f"row {i} of [q | r] is not a probability distribution")
    i_minus_q = [[(1.0 if i == j else 0.0) - q[i][j] for j in range(n)] for i in range(n)]
    fundamental = invert(i_minus_q)
    k = len(r[0]) if n else 0
    absorption = [
        [math.fsum(fundamental[i][j] * r[j][c] for j in range(n)) for c in range(k)]
        for i in range(n)
    ]
    steps = [math.fsum(row) for row in fundamental]
    return AbsorbingChain(fundamental=fundamental, absorption=absorption, expected_steps=steps)


# --------------------------------------------------------------------- Wilson
def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion of ``successes`` out of ``n`` (n ≥ 1).

    Unlike p ± z·√(p(1−p)/n), it stays inside [0, 1] and behaves for small n
    and for p near 0 or 1.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n!r}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes!r}")
    z = z_value(level)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)
