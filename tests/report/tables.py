"""Read the tables of a report page back (standard library HTML parser)."""

from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, tuple[str, str | None]]]] = {}
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self._table: str | None = None
        self._row: dict[str, tuple[str, str | None]] | None = None
        self._cell: tuple[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = {}
        elif tag == "td" and self._row is not None:
            self._cell = (attrs.get("data-field"), attrs.get("data-value"))
            self._text = []
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])

    def handle_data(self, data):
        if self._cell is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            field, value = self._cell
            if field:
                self._row[field] = ("".join(self._text), value)
            self._cell = None
        elif tag == "tr" and self._row:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None


def parse_page(text: str) -> _Tables:
    """Return the page's tables (id -> rows of field -> (text, data-value)), images, links."""
    parser = _Tables()
    parser.feed(text)
    return parser
