"""No password survives in a message: one redaction for every conninfo spelling, through
the redaction functions, the library (PostgresStore) and the command line."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _cli_data import Runner
from salesstages import SalesStagesError
from salesstages._redact import MASK, redact, scrub, secrets_of


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


PORT = _closed_port()
#: Every secret holds "SECRET"; nothing else in these texts does, so a message is clean
#: when "SECRET" is not in it.
SPELLINGS = [
    "postgresql://app:Xy9SECRET@127.0.0.1:{port}/crm",
    "postgres://app:Xy9SECRET@127.0.0.1:{port}/crm",
    "postgresql://app:ab/Xy9SECRET@127.0.0.1:{port}/crm",  # a raw /
    "postgresql://app:Xy9@SECRET@127.0.0.1:{port}/crm",  # a raw @
    "postgresql://app:Xy:9SECRET@127.0.0.1:{port}/crm",  # a raw :
    "postgresql://app:Xy9SECRET@[::1/crm",  # an unclosed [ (libpq echoes the URI)
    "postgresql://app:Xy9[SECRET]@127.0.0.1:{port}/crm",
    "postgresql://app:Xy9SECRET@127.0.0.1:{port}/crm?sslmode=disable",
    "postgresql://127.0.0.1:{port}/crm?user=app&password=Xy9SECRET",
    "postgresql://127.0.0.1:{port}/crm?pass%77ord=Xy9SECRET",  # an encoded key
    "postgresql://app:Xy9%2FSECRET@127.0.0.1:{port}/crm",  # encoded: read as Xy9/SECRET
    "postgresql://app:Xy9 SECRET@127.0.0.1:{port}/crm",  # a raw space
    "postgresql://app:Xy9?SECRET@127.0.0.1:{port}/crm",
    "postgresql://app:Xy9#SECRET@127.0.0.1:{port}/crm",
    'postgresql://app:Xy9"SECRET@127.0.0.1:{port}/crm',
    "postgresql://app:Xy9SECRET@127.0.0.1:notaport/crm",
    "postgresql://app:Xy9SECRET@127.0.0.1:{port}/crm?nonsense=1",
    "host=127.0.0.1 port={port} dbname=crm user=app password=Xy9SECRET",
    "host=127.0.0.1 port={port} password='Xy9 SECRET' dbname=crm",
    "host=127.0.0.1 port={port} password = Xy9SECRET",
    "password=Xy9SECRET host=127.0.0.1 port={port}",
    "host=127.0.0.1 port={port} password='Xy9\\'SECRET'",
    "host=127.0.0.1 port={port} sslpassword=Xy9SECRET password=SECRETxx",
    "host=127.0.0.1 port={port} password=Xy9SECRET nonsense_option=1",
    "host=127.0.0.1 port=notaport password=Xy9SECRET",
    "host=127.0.0.1 port={port} password=Xy9SECRET dbname='unclosed",
]
CASES = [s.format(port=PORT) for s in SPELLINGS]


@pytest.mark.parametrize("conninfo", CASES)
def test_redact_and_scrub_hide_every_spelling(conninfo: str) -> None:
    """The conninfo itself, and a driver message echoing it, keep no trace of the secret."""
    assert "SECRET" not in redact(conninfo)
    assert MASK in redact(conninfo)
    assert secrets_of(conninfo)
    echoed = f'could not parse "{conninfo}"\nnear "{secrets_of(conninfo)[-1]}"'
    assert "SECRET" not in scrub(echoed, conninfo)
    assert "\n" not in scrub(echoed, conninfo)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://ann@db.example/crm", "postgresql://ann@db.example/crm"),
        ("postgresql://db.example:5432/crm?sslmode=require", None),
        ("host=db port=5432 dbname=crm user=ann", None),
        ('password authentication failed for user "ann"', None),
        ("report crm.db --out report.txt", None),
        (
            "postgresql://ann:pw@db:5432/crm?user=ann&password=pw&sslmode=require",
            "postgresql://ann:***@db:5432/crm?user=ann&password=***&sslmode=require",
        ),
        (
            "see postgres://a:bb@h/x and password='p w' there",
            "see postgres://a:***@h/x and password=*** there",
        ),
    ],
)
def test_redact_keeps_everything_but_the_password(text: str, shown: str | None) -> None:
    """Text without a password is unchanged; with one, only the password is replaced."""
    assert redact(text) == (text if shown is None else shown)


def test_short_secrets_are_hidden_only_where_they_stand_alone() -> None:
    """A password of 1-3 characters is hidden where it stands alone, not inside words."""
    assert scrub("user app: bad password ab (connecting)", "host=h password=ab") == (
        "user app: bad password *** (connecting)"
    )
    assert scrub("database about", "host=h password=ab") == "database about"


# ------------------------------------------------------------------ the library
@pytest.mark.parametrize("conninfo", CASES)
def test_postgres_store_messages_hide_every_spelling(conninfo: str) -> None:
    """PostgresStore on a closed port (or a malformed conninfo) raises one typed line
    without the password."""
    pytest.importorskip("psycopg")
    from salesstages import PostgresStore

    with pytest.raises(SalesStagesError) as got:
        PostgresStore(conninfo, connect_timeout=2)
    text = str(got.value)
    assert "SECRET" not in text, text
    assert "\n" not in text


# ------------------------------------------------------------------ the command line
@pytest.mark.parametrize("conninfo", CASES)
def test_the_command_line_hides_every_spelling(run: Runner, conninfo: str) -> None:
    """``salesstages report SOURCE`` prints one error line without the password, for a
    URL (a failed connection) or a key=value conninfo (no such events file)."""
    status, out, err = run("report", conninfo, "-p", "inbound_b2b", "--engine", "python")
    assert status != 0
    assert "SECRET" not in out + err, err
    if not conninfo.startswith("postgres"):
        assert "does not exist" in err
        assert MASK in err


# ------------------------------------------------------------------ any password
_PASSWORDS = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)


@settings(max_examples=300, deadline=None)
@given(password=_PASSWORDS, user=st.sampled_from(["app", "", "a.b-c"]))
def test_any_url_password_is_hidden(password: str, user: str) -> None:
    """Whatever characters a URL's password holds, raw, redact() hides all of it."""
    secret = f"SeCrEt{password}SeCrEt"
    url = f"postgresql://{user}:{secret}@db.example:5432/crm?sslmode=require"
    assert "SeCrEt" not in redact(url)
    assert "SeCrEt" not in scrub(f'invalid URI: "{url}"', url)


@settings(max_examples=300, deadline=None)
@given(password=_PASSWORDS)
def test_any_quoted_conninfo_password_is_hidden(password: str) -> None:
    """Whatever a quoted key=value password holds (escaped as libpq wants), it is hidden."""
    quoted = f"SeCrEt{password}SeCrEt".replace("\\", "\\\\").replace("'", "\\'")
    conninfo = f"host=db password='{quoted}' user=app"
    assert "SeCrEt" not in redact(conninfo)
    assert "SeCrEt" not in scrub(f"bad conninfo {conninfo!r}", conninfo)
