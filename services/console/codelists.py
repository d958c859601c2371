"""The APIs' code lists (`GET /v1/code-lists` of signals and of funding), kept a few
minutes per language.

The console copies no code list: the options of a select and the label of a code come from
the API. A response field `xLabel` beside a code `x` is shown where the API gives one; these
lists serve the selects and the few codes that come without a label. After `TTL_S` the copy
is revalidated with its ETag (`If-None-Match`), so an unchanged list costs a 304 and no body.
The lists are the same for every user (no personal data), so one copy serves everyone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from services.console.backend import Api

TTL_S = 300.0
#: The services that serve code lists.
CODE_LIST_SERVICES = ("signals", "funding")
#: A subcategory's code is only unique within its category: "category/subcategory".
SUBCATEGORY = "subcategory"


@dataclass(frozen=True)
class Labels:
    """One language's code lists: list name -> code -> label, in the API's order."""

    lists: dict[str, dict[str, str]] = field(default_factory=dict)
    #: read purpose -> the roles that may give it (the API's `roles`, from covenants.toml)
    read_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __call__(self, list_name: str, code: object) -> str:
        """The code's label; the code itself when the list does not know it (never empty)."""
        if code is None or code == "":
            return ""
        return self.lists.get(list_name, {}).get(str(code), str(code))

    def any_of(self, code: object, *list_names: str) -> str:
        """The label from the first list that knows the code (e.g. purpose or read purpose)."""
        for name in list_names:
            if str(code) in self.lists.get(name, {}):
                return self.lists[name][str(code)]
        return "" if code is None else str(code)

    def options(self, list_name: str) -> list[tuple[str, str]]:
        """(code, label) pairs for a select, in the API's order."""
        return list(self.lists.get(list_name, {}).items())

    def read_purposes(self, role: str) -> list[tuple[str, str]]:
        """The read purposes the API lets `role` give, as (code, label) pairs."""
        return [(code, label) for code, label in self.options("read-purpose")
                if role in self.read_roles.get(code, ())]

    @classmethod
    def of(cls, body: dict[str, Any]) -> Labels:
        lists: dict[str, dict[str, str]] = {}
        read_roles = {str(i["code"]): tuple(i.get("roles") or ())
                      for i in (body.get("lists") or {}).get("read-purpose", [])}
        for name, items in (body.get("lists") or {}).items():
            lists[name] = {
                (f"{i['category']}/{i['code']}" if name == SUBCATEGORY and i.get("category")
                 else str(i["code"])): str(i.get("label") or i["code"]) for i in items}
        return cls(lists, read_roles)


@dataclass
class _Copy:
    labels: Labels
    etag: str
    fetched_at: float


class CodeLists:
    """The console's one copy per language of one service's lists (on
    `app.state.code_lists[service]`)."""

    def __init__(self, service: str = "signals", ttl_s: float = TTL_S) -> None:
        self.service = service
        self.ttl_s = ttl_s
        self._copies: dict[str, _Copy] = {}
        self._lock = asyncio.Lock()

    async def get(self, api: Api, lang: str) -> Labels:
        copy = self._copies.get(lang)
        if copy is not None and time.monotonic() - copy.fetched_at < self.ttl_s:
            return copy.labels
        async with self._lock:  # one request per expiry, not one per page view
            copy = self._copies.get(lang)
            if copy is not None and time.monotonic() - copy.fetched_at < self.ttl_s:
                return copy.labels
            headers = {"If-None-Match": copy.etag} if copy is not None and copy.etag else {}
            response = await api.call("GET", self.service, "/v1/code-lists", headers=headers)
            now = time.monotonic()
            if response.status_code == 304 and copy is not None:
                copy.fetched_at = now
                return copy.labels
            copy = _Copy(Labels.of(response.json()), response.headers.get("etag", ""), now)
            self._copies[lang] = copy
            return copy.labels
