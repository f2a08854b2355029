"""Reading one key of the JSON ``data`` column, typed as the pure-Python engine reads it.

Each reader returns Ibis expressions that are null unless the value has the
type asked for (a JSON boolean is not a number, a number is not a string), so
``amount_of`` and ``by=`` keys come out as in Python. DuckDB uses Ibis's own
JSON operations. On PostgreSQL, Ibis 12 compiles its unwrap operations to
``->> VARIADIC ARRAY[]`` (refused by the server), so the reader calls
``json_typeof`` / ``json_extract_path_text`` directly. On PySpark, Ibis runs
its unwraps as pandas UDFs; the reader uses Spark's own ``parse_json`` and
``variant_get`` instead.
"""

from __future__ import annotations

from typing import Any

from ._columns import ibis

__all__ = ["JsonReader", "reader"]


def _one(a: Any) -> Any:  # pragma: no cover - a signature, never called
    raise NotImplementedError


def _two(a: Any, b: Any) -> Any:  # pragma: no cover - a signature, never called
    raise NotImplementedError


def _builtin(name: str, inputs: tuple[Any, ...], output: Any) -> Any:
    """A backend function of one or two arguments, called by its own name."""
    fn = _one if len(inputs) == 1 else _two
    return ibis.udf.scalar.builtin(fn, name=name, signature=(inputs, output))


class JsonReader:
    """Ibis's JSON operations (DuckDB and other backends where they compile)."""

    def present(self, data: Any, key: str) -> Any:
        """True when ``key`` is in the object (its value may be null)."""
        return data[key].notnull()

    def string(self, data: Any, key: str) -> Any:
        return data[key].unwrap_as("string")

    def boolean(self, data: Any, key: str) -> Any:
        return data[key].unwrap_as("boolean")

    def integer(self, data: Any, key: str) -> Any:
        """A JSON number written without fraction or exponent (a Python int)."""
        return data[key].unwrap_as("int64")

    def number(self, data: Any, key: str) -> Any:
        """Any JSON number (not a boolean), as float64."""
        return data[key].unwrap_as("float64")


class _PostgresReader(JsonReader):
    def __init__(self) -> None:
        import ibis.expr.datatypes as dt

        self._typeof = _builtin("json_typeof", (dt.json,), dt.string)
        self._get = _builtin("json_extract_path", (dt.json, dt.string), dt.json)
        self._text = _builtin("json_extract_path_text", (dt.json, dt.string), dt.string)

    def _kind(self, data: Any, key: str) -> Any:
        return self._typeof(self._get(data, key))

    def present(self, data: Any, key: str) -> Any:
        return self._get(data, key).notnull()

    def string(self, data: Any, key: str) -> Any:
        return ibis.ifelse(self._kind(data, key) == "string", self._text(data, key), None)

    def boolean(self, data: Any, key: str) -> Any:
        return ibis.ifelse(
            self._kind(data, key) == "boolean", self._text(data, key) == "true", None
        )

    def integer(self, data: Any, key: str) -> Any:
        text = self._text(data, key)
        whole = (self._kind(data, key) == "number") & text.re_search(r"^-?[0-9]+$")
        return ibis.ifelse(whole, text, None).cast("int64")

    def number(self, data: Any, key: str) -> Any:
        text = self._text(data, key)
        return ibis.ifelse(self._kind(data, key) == "number", text, None).cast("float64")


def reader(backend: str) -> JsonReader:
    """The JSON reader for a backend name."""
    if backend == "postgres":
        return _PostgresReader()
    return JsonReader()
