"""A Griffe extension for the docs site: Sphinx roles in docstrings become links.

The package's docstrings cross-reference with Sphinx roles
(``:class:`~salesstages.Event```), which Markdown would print as they are. This
turns each into an optional autorefs link (plain code when the target is not
in the reference, so it never fails a strict build) and drops reST's escaped
spaces (``timedelta``\\ s). Loaded by ``mkdocs.yml``; not part of the package.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`([^`]+)`")


def _link(match: re.Match[str], module: str) -> str:
    content = match.group(1).strip()
    title: str | None = None
    if content.endswith(">") and "<" in content:  # :class:`title <target>`
        title, _, rest = content.partition("<")
        title, target = title.strip(), rest[:-1].strip()
    else:
        target = content
    short = target.startswith("~")
    target = target.lstrip("~!")
    if title is None:
        title = target.rsplit(".", 1)[-1] if short else target
    identifier = target if "." in target else f"{module}.{target}"
    return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'


def convert(text: str, module: str) -> str:
    """The docstring with its Sphinx roles as autorefs and without reST escaped spaces."""
    return _ROLE.sub(lambda m: _link(m, module), text).replace("\\ ", "")


class SphinxRoles(Extension):
    """Rewrite every loaded docstring once."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        """Convert this object's docstring, if it has one."""
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value, obj.module.path)
