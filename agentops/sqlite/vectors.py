"""`vec_distance_cosine(a, b)` on every SQLite connection, for memory's vector search.

sqlite-vec's when the driver can load extensions and the package is installed; otherwise (Python
built without extension loading, as Debian's is) the same function in Python: the same answers,
about a hundred times slower, so fine for thousands of embedded items, not hundreds of thousands.
"""

from __future__ import annotations

import math
import operator
import sqlite3
from array import array


def cosine_distance(first: bytes | None, second: bytes | None) -> float | None:
    """1 - cosine similarity of two float32 vectors; NULL when either is NULL or they differ in length."""
    if first is None or second is None or len(first) != len(second):
        return None
    a, b = array("f"), array("f")
    a.frombytes(first)
    b.frombytes(second)
    norms = math.sqrt(sum(map(operator.mul, a, a))) * math.sqrt(sum(map(operator.mul, b, b)))
    return 1.0 - sum(map(operator.mul, a, b)) / norms if norms else None


def load_vector_functions(connection: sqlite3.Connection) -> str:
    """Give `connection` vec_distance_cosine; returns which implementation: "sqlite-vec" or "python"."""
    try:
        import sqlite_vec

        connection.enable_load_extension(True)
        try:
            sqlite_vec.load(connection)
        finally:
            connection.enable_load_extension(False)
        return "sqlite-vec"
    except (ImportError, AttributeError, sqlite3.OperationalError):
        connection.create_function("vec_distance_cosine", 2, cosine_distance, deterministic=True)
        return "python"
