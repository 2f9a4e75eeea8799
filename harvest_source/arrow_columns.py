"""Column shaping for the arrow path: names, types and order exactly as dlt's row path makes them.

``arrow_pages.PageDecoder`` parses a page with pyarrow; these functions flatten its records into
``a__b`` columns, give each column the type dlt would (the catalog's hints, or dlt's inference from
the first value), and tell where dlt's relational normalizer would put a new column. Anything they are
not sure to reproduce raises ``RowPath``: that page then takes dlt's row path.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .dlt_compat.resources import is_iso_timestamp

SEPARATOR = "__"
C_DLT_ID = "_dlt_id"
C_DLT_LOAD_ID = "_dlt_load_id"
# dlt's root _dlt_id: base64 of random bytes, 14 characters (10 bytes) without padding
_DLT_ID_CHARS = 14
TIMESTAMP = pa.timestamp("us", tz="UTC")


class RowPath(Exception):
    """This page has something the arrow path does not reproduce exactly: take the row path."""


def arrow_type(column: Mapping[str, Any]) -> pa.DataType | None:
    kind = column.get("data_type")
    if kind == "bigint":
        return pa.int64()
    if kind == "double":
        return pa.float64()
    if kind == "bool":
        return pa.bool_()
    if kind == "text":
        return pa.string()
    if kind == "decimal":
        return pa.decimal128(int(column.get("precision") or 38), int(column.get("scale") or 9))
    if kind == "date":
        return pa.date32()
    if kind == "timestamp":
        return TIMESTAMP
    return None  # json, binary, time, wei...: the row path decides


def cursor_type(arrow_type: pa.DataType, is_cursor: bool) -> pa.DataType:
    return pa.string() if is_cursor and pa.types.is_timestamp(arrow_type) else arrow_type


def nested_schema(flat: Mapping[str, pa.DataType]) -> pa.Schema:
    """``{"client__id": int64}`` -> ``client: struct<id: int64>`` for the JSON reader."""
    tree: dict[str, Any] = {}
    for name, arrow_type in flat.items():
        parts = name.split(SEPARATOR)
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node.setdefault(parts[-1], arrow_type)

    def build(node: dict[str, Any]) -> list[pa.Field]:
        return [pa.field(k, pa.struct(build(v)) if isinstance(v, dict) else v) for k, v in node.items()]

    return pa.schema(build(tree))


def leaves(table: pa.Table, max_nesting: int) -> dict[str, pa.Array]:
    """The page's columns flattened to ``a__b`` leaves; arrays and objects nested deeper than one
    level are the row path's business."""
    out: dict[str, pa.Array] = {}
    stack: list[tuple[list[tuple[str, pa.Array]], str, int]] = [
        ([(f.name, table.column(i).combine_chunks()) for i, f in enumerate(table.schema)], "", 0)
    ]
    while stack:
        items, prefix, depth = stack.pop()
        for key, array in items:
            if SEPARATOR in key or not key or key != key.strip() or key.startswith("_dlt"):
                raise RowPath(f"key {key!r} needs dlt's name normalization")
            name = prefix + key
            kind = array.type
            if pa.types.is_struct(kind):
                if depth + 1 >= max_nesting:
                    raise RowPath(f"{name} nests objects deeper than one level")
                children = array.flatten()
                stack.append(([(kind.field(i).name, children[i]) for i in range(kind.num_fields)],
                              name + SEPARATOR, depth + 1))
                continue
            if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_map(kind):
                raise RowPath(f"{name} is an array")
            if not _plain_key(key):
                raise RowPath(f"key {key!r} needs dlt's name normalization")
            out[name] = array
    return out


def flatten_order(record: Mapping[str, Any]) -> list[str]:
    """A record's column names in the order dlt's relational normalizer emits them.

    dlt walks a record's keys in order, keeps scalars, and pushes nested objects on a stack that it
    pops *last in, first out* once the record's own keys are done.
    """
    out: list[str] = []
    stack: list[tuple[Mapping[str, Any], str]] = [(record, "")]
    while stack:
        current, prefix = stack.pop()
        for key, value in current.items():
            if isinstance(value, dict):
                stack.append((value, prefix + key + SEPARATOR))
            else:
                out.append(prefix + key)
    return out


def _plain_key(key: str) -> bool:
    """Keys dlt's snake_case naming leaves as they are (Harvest's keys all are)."""
    return key.isascii() and key[0].isalpha() and all(c.islower() or c.isdigit() or c == "_" for c in key)


def conform(array: pa.Array, arrow_type: pa.DataType, is_cursor: bool) -> pa.Array:
    """A known column in its settled type (dates and timestamps arrive as text from the reader)."""
    target = cursor_type(arrow_type, is_cursor)
    if array.type == target:
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), target)
    if pa.types.is_string(array.type) and (pa.types.is_date(target) or pa.types.is_timestamp(target)):
        return pc.cast(array, target)
    raise RowPath(f"{array.type} does not conform to {target}")


def infer(array: pa.Array) -> pa.Array | None:
    """Type a new, unhinted column as dlt would from its first value (None: all null, no column)."""
    kind = array.type
    if pa.types.is_null(kind) or array.null_count == len(array):
        return None
    if pa.types.is_int64(kind) or pa.types.is_boolean(kind):
        return array
    first = array.filter(pc.is_valid(array))[0].as_py()
    if pa.types.is_float64(kind):
        if float(first).is_integer():
            raise RowPath("an unhinted number column starts with a whole number (bigint or double?)")
        return array
    if pa.types.is_string(kind):
        if is_iso_timestamp(str, first):
            return pc.cast(array, TIMESTAMP)
        return array
    raise RowPath(f"no dlt type for inferred {kind}")


def dlt_ids(n: int) -> pa.Array:
    """``n`` random row ids in dlt's format, without a Python loop."""
    if n == 0:
        return pa.array([], pa.string())
    # 15 random bytes encode to 20 characters without padding; dlt's ids are 14 of them
    data = base64.b64encode(secrets.token_bytes(n * 15))
    offsets = pa.array(range(0, 20 * n + 1, 20), pa.int32())
    full = pa.StringArray.from_buffers(n, offsets.buffers()[1], pa.py_buffer(data))
    return pc.utf8_slice_codeunits(full, 0, _DLT_ID_CHARS)
