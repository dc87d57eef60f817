"""Tables owned by the scanning package (on the shared MetaData)."""

from __future__ import annotations

from warehouse.tables import metadata

__all__ = ["metadata"]
