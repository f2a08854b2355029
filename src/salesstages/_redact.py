"""Hide database passwords in text the library or the command line shows.

One mechanism for every spelling of a PostgreSQL conninfo:

- URLs (``postgresql://`` or ``postgres://``) anywhere in a text, whatever the
  password holds: a raw ``/``, ``@``, ``:``, ``[``, ``?`` … The user part runs to
  the *last* ``@`` of the URL, so a password cut short by a character libpq
  reads as a separator is hidden whole; a URL libpq cannot parse (an unclosed
  ``[``) is hidden the same way. ``password=`` and ``sslpassword=`` in the
  query are hidden too, also when the key is percent-encoded.
- ``key=value`` conninfo (``host=db password=S3cret``), quoted values
  (``password='it\\'s secret'``) included, and ``PGPASSWORD=…``.
- Messages that echo a conninfo (libpq's own, a driver's): :func:`scrub` hides
  every password found in the conninfo wherever it appears in the message, in
  its raw, percent-encoded and decoded forms, besides what :func:`redact` finds.

:func:`redact` is for naming a source; :func:`scrub` for a driver's message
about a source. Hiding more than needed is preferred to hiding less.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote, unquote

__all__ = ["MASK", "redact", "scrub", "secrets_of"]

#: What a hidden password is shown as.
MASK: Final = "***"
_SECRET_KEYS: Final = frozenset({"password", "sslpassword", "pgpassword"})
#: A URL of a PostgreSQL server: the scheme and everything up to the next whitespace.
_URL: Final = re.compile(r"(?i)(?<![A-Za-z0-9+.-])(postgres(?:ql)?://)(\S*)")
#: ``password=value`` outside URLs: a quoted value (to its closing quote, or the end),
#: or a bare one (to the next whitespace).
_PAIR: Final = re.compile(
    r"""(?ix)
    (?<![A-Za-z0-9_])((?:ssl|pg)?password)
    (\s*=\s*)
    ('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|\S*)
    """
)
#: Characters a URL or conninfo parser may cut a password at.
_SEPARATORS: Final = re.compile(r"""[/@:\[\]?#&='"\s\\]+""")
#: Pieces of a password cut at those characters that are hidden too, from this length.
_PIECE: Final = 3
#: Secrets shorter than this are hidden only where they stand alone (not inside words).
_SHORT: Final = 4


def redact(text: str) -> str:
    """``text`` with every password in it replaced by ``***``.

    Finds passwords in ``postgresql://`` / ``postgres://`` URLs (user part and
    query) and in ``password=`` pairs; the rest of the text is kept as it is.
    """
    if not isinstance(text, str):
        text = str(text)
    pieces = _pieces(text)
    # split() with two groups: [plain, scheme, rest, plain, scheme, rest, ..., plain]
    out: list[str] = []
    for i in range(0, len(pieces), 3):
        out.append(_PAIR.sub(_mask_pair, pieces[i]))
        if i + 2 < len(pieces):
            out.append(pieces[i + 1] + _redact_url_rest(pieces[i + 2]))
    return "".join(out)


def secrets_of(conninfo: str) -> list[str]:
    """Every password ``conninfo`` holds, in each form it may be echoed in
    (as written, percent-decoded, percent-encoded, unquoted), longest first."""
    found: set[str] = set()
    if not isinstance(conninfo, str):
        return []
    rest_of_text = []
    pieces = _pieces(conninfo)
    for i in range(0, len(pieces), 3):
        rest_of_text.append(pieces[i])
        if i + 2 < len(pieces):
            found.update(_url_secrets(pieces[i + 2]))
    for plain in rest_of_text:
        for m in _PAIR.finditer(plain):
            value = m.group(3)
            found.add(value)
            if value[:1] in ("'", '"'):
                inner = value[1:-1] if len(value) > 1 and value[-1] == value[0] else value[1:]
                found.add(inner)
                found.add(re.sub(r"\\(.)", r"\1", inner))
    variants: set[str] = set()
    for s in found:
        variants.update((s, unquote(s), quote(s, safe=""), quote(unquote(s), safe="")))
    # as a message shows it inside repr() (control characters and backslashes escaped)
    variants.update([repr(v)[1:-1] for v in variants])
    # what a parser may echo of a password it cut at a separator (``[SECRET]`` read as a host)
    variants.update(p for v in list(variants) for p in _SEPARATORS.split(v) if len(p) >= _PIECE)
    return sorted((v for v in variants if v and v != MASK), key=len, reverse=True)


def scrub(message: object, conninfo: str | None = None) -> str:
    """A driver's ``message`` on one line, with every password hidden: those
    :func:`redact` finds, and every password of ``conninfo`` wherever it appears."""
    text = " ".join(str(message).split())
    if conninfo is not None:
        for secret in secrets_of(conninfo):
            if len(secret) >= _SHORT:
                text = text.replace(secret, MASK)
            else:
                text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    return redact(text)


# --------------------------------------------------------------------- internals
def _pieces(text: str) -> list[str]:
    """``text`` split around its URLs: ``[plain, scheme, rest, plain, …, plain]``.

    A text that is one URL (a conninfo) is taken whole, spaces and all: a raw
    space in its password does not end it.
    """
    whole = _URL.match(text.strip())
    if whole is not None:
        lead = text[: len(text) - len(text.lstrip())]
        return [lead, whole.group(1), text.lstrip()[len(whole.group(1)) :], ""]
    return _URL.split(text)


def _split_user(rest: str) -> tuple[str, str] | None:
    """``(userinfo, after)`` of a URL without its scheme, or ``None`` without a user part.

    The user part runs to the last ``@``: a password holding a raw ``@`` or ``/``
    still ends there.
    """
    at = rest.rfind("@")
    if at < 0:
        return None
    return rest[:at], rest[at:]


def _redact_url_rest(rest: str) -> str:
    split = _split_user(rest)
    if split is None:
        return _redact_query(rest)
    user, after = split
    if ":" in user:
        user = user.partition(":")[0] + ":" + MASK
    return user + _redact_query(after)


def _redact_query(after: str) -> str:
    head, mark, query = after.partition("?")
    if not mark:
        return after
    query, hash_mark, fragment = query.partition("#")
    params = []
    for param in query.split("&"):
        key, eq, _value = param.partition("=")
        if eq and unquote(key).strip().lower() in _SECRET_KEYS:
            param = key + "=" + MASK
        params.append(param)
    return head + "?" + "&".join(params) + hash_mark + fragment


def _url_secrets(rest: str) -> list[str]:
    found = []
    split = _split_user(rest)
    after = rest
    if split is not None:
        user, after = split
        if ":" in user:
            found.append(user.partition(":")[2])
    query = after.partition("?")[2].partition("#")[0]
    for param in query.split("&"):
        key, eq, value = param.partition("=")
        if eq and unquote(key).strip().lower() in _SECRET_KEYS:
            found.append(value)
    return found


def _mask_pair(m: re.Match[str]) -> str:
    return m.group(1) + m.group(2) + MASK
