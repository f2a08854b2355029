"""The argument-spelling helper: old spellings warn and work, bad ones are TypeErrors."""

from __future__ import annotations

import inspect
import warnings
from datetime import timedelta

import pytest

from salesstages._compat import accepted_keywords, spellings


@spellings(
    positional=("start", "end"),
    renamed={"within": "horizon", "attributes": ("at", {"opened": "opening"})},
)
def period(
    events: object,
    pipeline: object,
    *,
    start: int = 0,
    end: int = 0,
    horizon: timedelta | None = None,
    at: str = "opening",
) -> tuple[object, ...]:
    return (events, pipeline, start, end, horizon, at)


class TestNewSpelling:
    def test_keywords_run_without_a_warning(self) -> None:
        """The new spelling passes straight through, with no warning."""
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert period("e", "p", start=1, end=2, horizon=timedelta(1), at="closing") == (
                "e",
                "p",
                1,
                2,
                timedelta(1),
                "closing",
            )

    def test_signature_is_the_new_one(self) -> None:
        """inspect.signature shows the wrapped function's new signature."""
        params = inspect.signature(period).parameters
        assert list(params) == ["events", "pipeline", "start", "end", "horizon", "at"]
        assert params["start"].kind is inspect.Parameter.KEYWORD_ONLY
        assert period.__wrapped__.__name__ == "period"  # type: ignore[attr-defined]

    def test_accepted_keywords(self) -> None:
        """accepted_keywords lists every name a caller may pass as a keyword."""
        assert accepted_keywords(period) == (
            "events",
            "pipeline",
            "start",
            "end",
            "horizon",
            "at",
        )


class TestOldSpelling:
    def test_positional_warns_naming_the_keywords(self) -> None:
        """Old positional arguments still work, with a warning naming the keywords."""
        with pytest.warns(DeprecationWarning, match=r"pass start=\.\.\., end=\.\.\. as keywords"):
            assert period("e", "p", 1, 2) == ("e", "p", 1, 2, None, "opening")

    def test_one_positional_of_two(self) -> None:
        """Only the arguments actually passed positionally are named."""
        with pytest.warns(DeprecationWarning, match=r"passing start positionally"):
            assert period("e", "p", 1, end=5)[2:4] == (1, 5)

    def test_renamed_keyword_warns_naming_the_new_one(self) -> None:
        """within= still works as horizon=, with a warning naming horizon=."""
        with pytest.warns(DeprecationWarning, match=r"within= is deprecated; use horizon="):
            assert period("e", "p", within=timedelta(3))[4] == timedelta(3)

    def test_renamed_value(self) -> None:
        """attributes="opened" becomes at="opening", and the warning says so."""
        with pytest.warns(
            DeprecationWarning, match=r"attributes='opened' is deprecated; use at='opening'"
        ):
            assert period("e", "p", attributes="opened")[5] == "opening"

    def test_renamed_value_that_did_not_change(self) -> None:
        """A value with no new spelling is passed on under the new name."""
        with pytest.warns(DeprecationWarning, match=r"attributes= is deprecated; use at="):
            assert period("e", "p", attributes="closing")[5] == "closing"

    def test_warning_points_at_the_caller(self) -> None:
        """The warning names the caller's file, so it is shown once per call site."""
        with pytest.warns(DeprecationWarning, match="horizon=") as record:
            period("e", "p", within=timedelta(1))
        assert record[0].filename == __file__


class TestBadSpelling:
    def test_old_and_new_name_together(self) -> None:
        """within= and horizon= together is a TypeError naming both."""
        with pytest.raises(TypeError, match=r"both within= .* and horizon="):
            period("e", "p", within=timedelta(1), horizon=timedelta(2))

    def test_positional_and_keyword_together(self) -> None:
        """start both positionally and as start= is a TypeError naming it."""
        with pytest.raises(TypeError, match=r"'start' both positionally and as start="):
            period("e", "p", 1, start=2)

    def test_unknown_keyword_lists_the_accepted_ones(self) -> None:
        """An unknown keyword is a TypeError listing every accepted one."""
        with pytest.raises(
            TypeError,
            match=r"unexpected keyword argument 'stat'; it accepts: events, pipeline, start, "
            r"end, horizon, at",
        ):
            period("e", "p", stat=1)

    def test_too_many_positional(self) -> None:
        """More positional arguments than there ever were is a TypeError."""
        with pytest.raises(TypeError, match=r"takes 2 positional arguments .* but 5 were given"):
            period("e", "p", 1, 2, 3)

    def test_decorating_a_positional_name(self) -> None:
        """Declaring a positional argument as formerly positional is refused."""
        with pytest.raises(TypeError, match=r"'b' is not a keyword-only argument"):

            @spellings(positional=("b",))
            def f(a: int, b: int) -> None: ...

    def test_renaming_to_an_unknown_name(self) -> None:
        """A rename must lead to one of the function's arguments."""
        with pytest.raises(TypeError, match=r"cannot rename 'x' to 'y'"):

            @spellings(renamed={"x": "y"})
            def f(a: int, *, z: int = 0) -> None: ...

    def test_var_keyword_refused(self) -> None:
        """A function taking **kwargs cannot list its accepted keywords."""
        with pytest.raises(TypeError, match=r"without \*\*kwargs"):

            @spellings()
            def f(a: int, **kw: int) -> None: ...
