"""Refusal messages: what a refused call says, and which criteria it lists.

A refusal reads "Cannot <action>: <why>." then, in its own sentence, what
would pass now ("Allowed next: …" or "No move would pass now."). Unmet entry
criteria are listed after "not met:" as requirements (each guard's
description, "document 'proposal' sent"), never as statements of fact.
"""

from __future__ import annotations

from collections.abc import Sequence

from .guards import DealView, GuardLike, _AllOf, _describe, evaluate

__all__ = ["allowed_sentence", "refusal_message", "requirements"]


def requirements(entry: GuardLike, view: DealView) -> list[str]:
    """The unmet parts of ``entry`` for the deal ``view``, phrased as requirements.

    An ``all_of`` lists the requirement of each guard in it that fails; any
    other guard that fails is listed by its description.
    """
    if evaluate(entry, view).ok:
        return []
    if isinstance(entry, _AllOf):
        return [r for g in entry.guards for r in requirements(g, view)]
    return [_describe(entry)]


def refusal_message(
    action: str, reasons: Sequence[str], unmet: Sequence[str], allowed: str | None
) -> str:
    """``Cannot <action>: <reasons>; not met: <unmet>.`` followed by ``allowed``."""
    parts = list(reasons)
    if unmet:
        parts.append("not met: " + "; ".join(unmet))
    message = f"Cannot {action}: " + "; ".join(parts) + "."
    return f"{message} {allowed}" if allowed else message


def allowed_sentence(what: str, passing: Sequence[str]) -> str:
    """``Allowed next: a, b.`` or, when nothing would pass, ``No <what> would pass now.``"""
    if passing:
        return "Allowed next: " + ", ".join(passing) + "."
    return f"No {what} would pass now."
