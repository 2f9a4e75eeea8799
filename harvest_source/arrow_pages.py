"""Arrow pages: Harvest list pages decoded straight into pyarrow tables, shaped like dlt's row path.

Why: on the row path every record becomes a Python dict (orjson), then dlt's extract, incremental and
relational normalizer walk it key by key. For a wide table such as ``time_entries`` that caps a load
at a few thousand rows per second. Here a page's bytes go to pyarrow's C++ JSON reader (which runs
outside the GIL, in the thread that made the request) and come out as one arrow table per page, which
dlt writes to parquet as is: no per-row Python work in the hot path.

The tables must look exactly like the row path's (``tests/test_arrow_pages.py`` proves it on
simulator data): nested objects flattened into ``a__b`` columns, the catalog's types (DATE,
DECIMAL(38,9), TIMESTAMP WITH TIME ZONE, BIGINT), unhinted columns typed the way dlt would type them
from the first value, all-null unhinted columns left out, the same column order, ``_dlt_load_id`` and
``_dlt_id`` present. Whatever this module is not sure to reproduce exactly (an array, a doubly nested
object, a number that could have been typed either way, a value that does not parse as its declared
type) sends that page down the row path instead: the page is then parsed with orjson and yielded as
dicts, and dlt does what it always does.

The incremental cursor keeps working unchanged: the cursor column stays a string until after dlt's
incremental step (``updated_at`` compares as ISO text exactly as on the row path, so the stored
``last_value`` and boundary hashes are the same), and ``finalize`` (a map step added after the
incremental) turns it into a timestamp and fills in the load id.

Only tables without arrays are candidates (``rules.arrow_eligible``); fan-out parents and children stay on
the row path. This module reads pages and keeps a table's column decisions; how a column is flattened,
typed and ordered is ``arrow_columns``'s; ``reading.batched`` joins the pages into dlt items.

Paging, pacing and retries are the client's: ``HarvestClient.iter_decoded(path, decoder.parse,
ahead=3)`` reads the list ahead (``read_ahead``): each page's body is parsed (``PageDecoder.parse``,
pyarrow outside the GIL) in its own thread while the next page is requested, so two pages parse at
once on two cores. ``settle`` then takes the column decisions (types, order, new columns) one page at
a time and in page order, in the resource's thread, exactly as a lone ``decode`` would: a page parsed
before an earlier one brought new columns is parsed again with them. A body the decoder cannot read
raises the client's ``UnreadableBody`` and is requested again like one orjson rejects.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .arrow_columns import (
    C_DLT_ID,
    C_DLT_LOAD_ID,
    TIMESTAMP,
    RowPath,
    conform,
    cursor_type,
    dlt_ids,
    flatten_order,
    infer,
    nested_schema,
)
from .arrow_columns import (
    arrow_type as to_arrow_type,
)
from .arrow_columns import (
    leaves as flat_leaves,
)
from .dlt_compat.resources import current_load_id
from .errors import HarvestResponseError, UnreadableBody
from .rules import ACCOUNT


def arrow_column_hints() -> dict[str, dict[str, Any]]:
    """The two system columns the arrow path adds itself, hinted as dlt's normalizer types them."""
    return {
        C_DLT_LOAD_ID: {"data_type": "text", "nullable": False},
        C_DLT_ID: {"data_type": "text", "nullable": False, "unique": True, "row_key": True},
    }


# Columns the source adds after decoding (``account_column``): never Harvest's, never decoded
STAMPED = frozenset({ACCOUNT})


@dataclass
class DecodedPage:
    """One list page: the records as an arrow table, or as dicts when they must take the row path."""

    envelope: dict[str, Any]  # everything but the records (``links`` drives paging)
    table: pa.Table | None = None
    rows: list[dict[str, Any]] | None = None

    @property
    def item(self) -> Any:
        return self.table if self.table is not None else self.rows

    def __len__(self) -> int:
        return self.table.num_rows if self.table is not None else len(self.rows or ())


@dataclass
class ParsedPage:
    """A page read by ``PageDecoder.parse``, before ``settle`` decides its columns."""

    raw: bytes
    path: str
    envelope: dict[str, Any]
    table: pa.Table | None = None  # the records as the JSON reader typed them
    rows: list[dict[str, Any]] | None = None  # the row path's records, when the reader could not take the page
    known: int = 0  # how many column types the decoder knew when the page was parsed (they only grow)


class PageDecoder:
    """Decodes the pages of one table; remembers the column types it settled on, as dlt's schema would."""

    def __init__(
        self,
        table: str,
        records_key: str,
        hints: Mapping[str, Mapping[str, Any]],
        cursor: str | None = "updated_at",
        max_nesting: int = 2,
    ) -> None:
        self.table_name, self.records_key, self.cursor = table, records_key, cursor
        self.max_nesting = max_nesting
        self._hints = {n: dict(c) for n, c in hints.items() if not n.startswith("_dlt") and n not in STAMPED}
        self._hint_order = list(self._hints)
        # column -> arrow type this table uses (hints, then what earlier pages or loads settled on)
        self._known: dict[str, pa.DataType] = {}
        for name, column in self._hints.items():
            arrow_type = to_arrow_type(column)
            if arrow_type is not None:
                self._known[name] = arrow_type
        self._order: list[str] = list(self._hint_order)  # the table's column order as dlt will have it
        self._seeded = False
        self._lock = threading.Lock()
        self.stats = {"arrow_pages": 0, "row_pages": 0, "rows": 0}

    # -- the schema dlt already has (earlier loads) ---------------------------------------
    def seed(self, schema: Any) -> None:
        """Adopt types and order of columns dlt already knows for this table (call in the extract context)."""
        with self._lock:
            if self._seeded:
                return
            self._seeded = True
            table = (getattr(schema, "tables", None) or {}).get(self.table_name)
            if not table:
                return
            for name, column in dict(table.get("columns") or {}).items():
                if name.startswith("_dlt") or name in self._hints or name in STAMPED:
                    continue
                arrow_type = to_arrow_type(column)
                if arrow_type is None or "__v_" in name:
                    continue
                self._known[name] = arrow_type
                if name not in self._order:
                    self._order.append(name)

    # -- decoding -----------------------------------------------------------------------------
    def decode(self, raw: bytes, path: str = "") -> DecodedPage:
        """One page's body -> its records as an arrow table (or as dicts for the row path).

        The decode function for ``HarvestClient.iter_decoded``: a truncated or corrupt body raises
        ``UnreadableBody`` (the client retries it), a page without the records list a
        ``HarvestResponseError``. It is ``settle(parse(raw))``, for pages decoded one at a time.
        """
        return self.settle(self.parse(raw, path))

    def parse(self, raw: bytes, path: str = "") -> ParsedPage:
        """The JSON parsing half of ``decode``: thread-safe, for pages parsed in parallel and in any order.

        Raises what ``decode`` raises for a body that cannot be read. The column decisions are
        ``settle``'s, which must then see the pages in their order.
        """
        try:
            with self._lock:
                explicit, known = self._explicit(()), len(self._known)
            page = self._parse(raw, explicit)
            if page is not None:
                return ParsedPage(raw, path, page[1], table=page[0], known=known)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
        decoded = self._rows(raw, path)
        return ParsedPage(raw, path, decoded.envelope, rows=decoded.rows)

    def settle(self, page: ParsedPage) -> DecodedPage:
        """The column decisions half of ``decode`` (types, order, new columns): call in page order."""
        if page.rows is not None:
            return DecodedPage(page.envelope, rows=page.rows)
        try:
            with self._lock:
                parsed: tuple[pa.Table, dict] | None = (page.table, page.envelope)
                if page.known != len(self._known):  # parsed before earlier pages settled new columns:
                    parsed = self._parse(page.raw, self._explicit(()))  # read it as a lone decode would
                decoded = self._to_arrow(page.raw, parsed)
                if decoded is not None:
                    self.stats["arrow_pages"] += 1
                    self.stats["rows"] += decoded.table.num_rows if decoded.table is not None else 0
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, RowPath):
            decoded = None
        return decoded if decoded is not None else self._rows(page.raw, page.path)

    def _rows(self, raw: bytes, path: str) -> DecodedPage:
        """The row path for this page: orjson, validated like ``HarvestClient.iter_pages`` does."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise UnreadableBody(f"invalid or truncated JSON body ({len(raw)} bytes)") from error
        if not isinstance(data, dict) or not isinstance(data.get(self.records_key), list):
            raise HarvestResponseError(
                f"GET {path}: the response has no '{self.records_key}' list",
                status=200,
                path=path,
                hint="check the records key of this endpoint in the catalog",
            )
        rows = data.pop(self.records_key)
        with self._lock:
            self.stats["row_pages"] += 1
        return DecodedPage(data, rows=rows)

    def _to_arrow(self, raw: bytes, page: tuple[pa.Table, dict] | None) -> DecodedPage | None:
        if page is None:
            return None
        parsed, envelope = page
        if parsed.num_rows == 0:
            return DecodedPage(envelope, rows=[])
        leaves = flat_leaves(parsed, self.max_nesting)
        # pyarrow types ISO dates and datetimes alike as timestamp[s]; dlt tells them apart from the
        # text, so new columns typed that way are read again as text and decided like dlt does
        guessed = [n for n, a in leaves.items() if n not in self._known and pa.types.is_timestamp(a.type)]
        if guessed:
            page = self._parse(raw, self._explicit(guessed))
            if page is None:
                return None
            parsed, envelope = page
            leaves = flat_leaves(parsed, self.max_nesting)
        n = parsed.num_rows
        columns: dict[str, pa.Array] = {}
        first_seen: dict[str, int] = {}
        for name, array in leaves.items():
            known = self._known.get(name)
            if known is not None:
                columns[name] = conform(array, known, name == self.cursor)
                continue
            decided = infer(array)
            if decided is None:  # all null: dlt creates no column for it
                continue
            columns[name] = decided
            first_seen[name] = pc.index(pc.is_valid(array), True).as_py()
        for name in self._hint_order:  # hinted columns the page does not carry: typed nulls
            if name not in columns and name in self._known:
                columns[name] = pa.nulls(n, cursor_type(self._known[name], name == self.cursor))
        for name, column in self._hints.items():
            if column.get("nullable") is False and name in columns and columns[name].null_count:
                raise RowPath(f"{name} has nulls")
        order = [name for name in self._order if name in columns] + self._new_columns_order(raw, first_seen)
        columns[C_DLT_LOAD_ID] = pa.nulls(n, pa.string())
        columns[C_DLT_ID] = dlt_ids(n)
        fields = []
        for name in order:
            nullable = not (name in (C_DLT_ID, C_DLT_LOAD_ID) or self._hints.get(name, {}).get("nullable") is False)
            fields.append(pa.field(name, columns[name].type, nullable=nullable))
        table = pa.Table.from_arrays([columns[name] for name in order], schema=pa.schema(fields))
        for name in first_seen:
            self._known[name] = cursor_type(table.schema.field(name).type, False)
            self._order.append(name)
        return DecodedPage(envelope, table=table)

    def _new_columns_order(self, raw: bytes, first_seen: Mapping[str, int]) -> list[str]:
        """Where dlt's row path would put columns it has not seen before, with its system columns.

        The row path adds a column when it first meets a value in it: the first record's columns in
        its flattening order, then ``_dlt_load_id`` and ``_dlt_id``, then columns whose first value
        comes in a later record, in that record's order. The records' own key order decides it, so
        the few records that matter are read as dicts (the reader's struct order is not the JSON's).
        """
        order: list[str] = []
        if not first_seen:
            return [C_DLT_LOAD_ID, C_DLT_ID]
        rows = sorted(set(first_seen.values()))
        records = orjson.loads(raw)[self.records_key]  # only on pages that bring new columns
        for row in rows:
            if row > 0 and C_DLT_ID not in order:
                order += [C_DLT_LOAD_ID, C_DLT_ID]
            keys = flatten_order(records[row])
            position = {key: i for i, key in enumerate(keys)}
            batch = [name for name, seen in first_seen.items() if seen == row]
            if any(name not in position for name in batch):
                raise RowPath("column order could not be established")
            order += sorted(batch, key=position.__getitem__)
        if C_DLT_ID not in order:
            order += [C_DLT_LOAD_ID, C_DLT_ID]
        return order

    def _explicit(self, force_text: list[str] | tuple[str, ...]) -> dict[str, pa.DataType]:
        """The types the JSON reader is told (call under the lock); the rest it infers."""
        explicit: dict[str, pa.DataType] = {}
        for name, arrow_type in self._known.items():
            if pa.types.is_date(arrow_type) or (name == self.cursor and pa.types.is_timestamp(arrow_type)):
                arrow_type = pa.string()  # parsed as text, converted after (dates) or after the incremental
            explicit[name] = arrow_type
        for name in force_text:
            explicit[name] = pa.string()
        return explicit

    def _parse(self, raw: bytes, explicit: Mapping[str, pa.DataType]) -> tuple[pa.Table, dict] | None:
        """The page through pyarrow's JSON reader: (records table, envelope), or None if not a list page."""
        record = pa.struct(list(nested_schema(explicit)))
        envelope_schema = pa.schema([pa.field(self.records_key, pa.list_(record))])
        parsed = pa_json.read_json(
            io.BytesIO(raw),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=len(raw) + 1),
            parse_options=pa_json.ParseOptions(explicit_schema=envelope_schema, unexpected_field_behavior="infer",
                                               newlines_in_values=True),
        )
        if parsed.num_rows != 1 or parsed.column(self.records_key).null_count:
            return None
        records = parsed.column(self.records_key).chunk(0).flatten()  # the page's records: one struct array
        envelope = parsed.drop_columns([self.records_key]).to_pylist()[0]
        if not isinstance(envelope.get("links"), dict):
            return None
        return pa.Table.from_struct_array(records), envelope

    # -- after dlt's incremental step ------------------------------------------------------
    def finalize(self, item: Any) -> Any:
        """Map step after the incremental: the cursor becomes a timestamp, the load id is filled in."""
        if not isinstance(item, pa.Table):
            return item
        if self.cursor and self.cursor in item.column_names and pa.types.is_string(item.schema.field(self.cursor).type):
            index = item.column_names.index(self.cursor)
            field = item.schema.field(index)
            item = item.set_column(index, field.with_type(TIMESTAMP), pc.cast(item[self.cursor], TIMESTAMP))
        if C_DLT_LOAD_ID in item.column_names:
            index = item.column_names.index(C_DLT_LOAD_ID)
            load_id = current_load_id()
            if load_id is None:  # iterated outside a pipeline: there is no load
                return item.remove_column(index)
            item = item.set_column(index, item.schema.field(index),
                                   pa.nulls(item.num_rows, pa.string()).fill_null(load_id))
        return item


__all__ = ["DecodedPage", "PageDecoder", "ParsedPage", "arrow_column_hints"]
