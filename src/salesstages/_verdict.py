"""The answer a guard gives: :class:`Verdict`, at the bottom of the imports.

:mod:`salesstages._errors` (``TransitionRefused.verdict``) and
:mod:`salesstages.guards` both need it; it lives here, importing nothing of the
package, so neither has to import the other. The public names are
``salesstages.Verdict`` and ``salesstages.guards.Verdict``.
"""

from __future__ import annotations

import attrs

__all__ = ["Verdict"]


@attrs.frozen
class Verdict:
    """The answer to "may this happen?": ``ok`` and the ``reasons`` it may not.

    A verdict is truthy exactly when ``ok``. Reasons are sentences that name
    what is missing.
    """

    ok: bool
    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    @classmethod
    def yes(cls) -> Verdict:
        """The verdict that allows."""
        return _YES

    @classmethod
    def no(cls, *reasons: str) -> Verdict:
        """A refusing verdict with the given reasons."""
        return cls(False, tuple(reasons))


_YES = Verdict(True, ())
