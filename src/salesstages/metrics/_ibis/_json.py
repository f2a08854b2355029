"""Reading one key of the JSON ``data`` column, typed as the pure-Python engine reads it.

Each reader returns Ibis expressions that are null unless the value has the
type asked for (a JSON boolean is not a number, a number is not a string), so
``amount_of`` and ``by=`` keys come out as in Python. DuckDB uses Ibis's own
JSON operations. On PostgreSQL, Ibis 12 compiles its unwrap operations to
``->> VARIADIC ARRAY[]`` (refused by the server), so the reader calls
``json_typeof`` / ``json_extract_path_text`` directly. On PySpark, Ibis runs
its unwraps as pandas UDFs; the reader uses Spark's own ``try_parse_json`` and
``variant_get`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._columns import ibis

__all__ = ["JsonReader", "reader"]


def _signature(arity: int) -> Callable[..., Any]:
    """A new signature function of ``arity`` arguments (Ibis keys its UDF classes on it)."""

    def one(a: Any) -> Any:  # pragma: no cover - a signature, never called
        raise NotImplementedError

    def two(a: Any, b: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def three(a: Any, b: Any, c: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    return (one, two, three)[arity - 1]


def _builtin(name: str, inputs: tuple[Any, ...], output: Any) -> Any:
    """A backend function of one to three arguments, called by its own name."""
    fn = _signature(len(inputs))
    fn.__name__ = name
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

    def compound(self, data: Any, key: str) -> Any:
        """True when the value is a JSON array or object."""
        import ibis.expr.datatypes as dt

        kind = _builtin("json_type", (dt.json,), dt.string)(data[key])
        return kind.isin(("ARRAY", "OBJECT")).fill_null(False)


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

    def compound(self, data: Any, key: str) -> Any:
        return self._kind(data, key).isin(("array", "object")).fill_null(False)


class _SparkReader(JsonReader):
    """Spark 4's VARIANT: ``try_parse_json`` (sqlglot drops a plain ``parse_json``
    when it writes Spark SQL), then the value's type from
    ``schema_of_variant`` (``BIGINT``, ``DOUBLE``, ``DECIMAL(p,s)``, ``STRING``,
    ``BOOLEAN``, ``VOID`` for null) and the value from ``try_variant_get``.
    ``data`` stays a string column on Spark (it has no JSON type)."""

    def __init__(self) -> None:
        import ibis.expr.datatypes as dt

        # VARIANT has no Ibis type: declared binary, it only passes between functions
        self._parse = _builtin("try_parse_json", (dt.string,), dt.binary)
        self._get = _builtin("variant_get", (dt.binary, dt.string), dt.binary)
        self._schema = _builtin("schema_of_variant", (dt.binary,), dt.string)
        self._as = {
            t: _builtin("try_variant_get", (dt.binary, dt.string, dt.string), out)
            for t, out in (("string", dt.string), ("boolean", dt.boolean), ("bigint", dt.int64))
        }
        self._as["double"] = _builtin(
            "try_variant_get", (dt.binary, dt.string, dt.string), dt.float64
        )

    @staticmethod
    def _path(key: str) -> str:
        if key.isidentifier():
            return f"$.{key}"
        escaped = key.replace("\\", "\\\\").replace("'", "\\'")
        return f"$['{escaped}']"

    def _kind(self, data: Any, key: str) -> Any:
        return self._schema(self._get(self._parse(data), self._path(key)))

    def _value(self, data: Any, key: str, type_: str) -> Any:
        return self._as[type_](self._parse(data), self._path(key), type_)

    def present(self, data: Any, key: str) -> Any:
        return self._get(self._parse(data), self._path(key)).notnull()

    def string(self, data: Any, key: str) -> Any:
        return ibis.ifelse(
            self._kind(data, key) == "STRING", self._value(data, key, "string"), None
        )

    def boolean(self, data: Any, key: str) -> Any:
        kind = self._kind(data, key)
        return ibis.ifelse(kind == "BOOLEAN", self._value(data, key, "boolean"), None)

    def integer(self, data: Any, key: str) -> Any:
        kind = self._kind(data, key)
        return ibis.ifelse(kind == "BIGINT", self._value(data, key, "bigint"), None)

    def number(self, data: Any, key: str) -> Any:
        kind = self._kind(data, key)
        numeric = kind.isin(("BIGINT", "DOUBLE")) | kind.startswith("DECIMAL")
        return ibis.ifelse(numeric, self._value(data, key, "double"), None)

    def compound(self, data: Any, key: str) -> Any:
        kind = self._kind(data, key)
        return (kind.startswith("ARRAY") | kind.startswith("OBJECT")).fill_null(False)


def reader(backend: str) -> JsonReader:
    """The JSON reader for a backend name."""
    if backend == "postgres":
        return _PostgresReader()
    if backend == "pyspark":
        return _SparkReader()
    return JsonReader()
