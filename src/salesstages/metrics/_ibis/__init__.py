"""The Ibis engine: every metric and forecast of an Ibis table, run on its backend.

Each public function here has the name and signature of its pure-Python
counterpart (:mod:`salesstages.metrics._engine` routes to it by name).
"""

from __future__ import annotations

__all__: list[str] = []
