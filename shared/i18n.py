"""Dutch first, English on request: the answer's language, problem texts and code labels.

`Accept-Language` picks `nl` (the default, also for any language we do not speak) or `en`.
Every answer says which in `Content-Language` and adds `Accept-Language` to `Vary`.

Problem texts are written in English in the code (where they are raised) and translated on the
way out: a problem+json answer in Dutch has its `title`, `detail` and its per-field texts
(`invalidParams[].reason`, `refusals[].message`) looked up in the message catalogues
(`shared/messages.toml`, `services/*/messages.toml`). A catalogue entry is a pair of templates:

    [details.no-signal]
    en = "no signal {id} in your organisation"
    nl = "geen signaal {id} in uw organisatie"

The English template is matched against the text; what its placeholders caught is put into the
Dutch one (and translated too when it is itself a catalogued text: a refusal's message inside a
detail). Codes, `type`, field names and `invalidParams[].name/code` never change: those are
contracts. Only problem answers in Dutch are rewritten, so a success pays only for two headers.

Labels of codes (statuses, outcomes, reasons, ...) are data too (`[labels.<list>.<code>]` in
the same files); `label(list, code)` gives one in the request's language.
"""

from __future__ import annotations

import functools
import re
import string
import tomllib
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import PROBLEM_JSON

DEFAULT = "nl"
SUPPORTED = ("nl", "en")
#: The language the texts are written in, in the code.
SOURCE = "en"
#: Answers that are not for people reading Dutch or English (documents, probes, metrics).
UNLOCALISED = ("/v1/openapi.json", "/v1/docs", "/v1/asyncapi.json", "/metrics", "/livez",
               "/readyz")
#: Problem members that people read; the rest (type, code, name, status) is a contract.
TRANSLATED = ("title", "detail", "reason", "message")
#: Problem members holding lists of objects with texts of their own.
NESTED = ("invalidParams", "refusals")
#: Longer texts are not matched against the templates (they stay in English): a template with
#: several `.+?` placeholders costs cubic time on a text made of its own literals, and a caught
#: part (an area code, a CSV cell) can be anyone's. Far above any catalogued text's length.
MAX_TEMPLATED_CHARS = 2000

_SENTENCE_END = re.compile(r"(?<=\.) ")
_language: ContextVar[str] = ContextVar("language", default=DEFAULT)
_SHARED_DIR = Path(__file__).parent
_SERVICES_DIR = _SHARED_DIR.parent / "services"


def current_language() -> str:
    """The language of the answer being made (`nl` outside a request)."""
    return _language.get()


def negotiate(accept_language: str | None) -> str:
    """The supported language the header prefers most (RFC 9110 12.5.4), else `nl`.

    Only the primary subtag counts (`en-GB` is `en`, `nl-BE` is `nl`); `*` stands for the
    default; `q=0` refuses a language. Ties go to the one named first. Browsers send a few
    distinct headers, so the answers are cached; a header's first 200 characters count."""
    if not accept_language:
        return DEFAULT
    return _negotiate(accept_language[:200])


@functools.lru_cache(maxsize=256)
def _negotiate(accept_language: str) -> str:
    best, best_q = DEFAULT, 0.0
    for part in accept_language.split(",")[:20]:  # a header is short; a long one is noise
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().split("-", 1)[0].lower()
        lang = DEFAULT if primary == "*" else primary
        if lang not in SUPPORTED:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if 0 < q <= 1 and q > best_q:
            best, best_q = lang, q
    return best


@dataclass(frozen=True)
class _Template:
    pattern: re.Pattern[str]
    target: str
    literal_length: int


def _compile(source: str) -> tuple[re.Pattern[str], int]:
    """A regular expression that matches what the template renders to, and its literal size."""
    parts: list[str] = []
    seen: set[str] = set()
    literal = 0
    for text, name, _spec, _conv in string.Formatter().parse(source):
        parts.append(re.escape(text))
        literal += len(text)
        if name is None:
            continue
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
    return re.compile("".join(parts), re.DOTALL), literal


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass
class Catalogue:
    """Every text pair and label of the catalogue files, with the English texts indexed."""

    entries: dict[str, dict[str, str]] = field(default_factory=dict)
    labels: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    _exact: dict[str, dict[str, str]] = field(default_factory=dict)
    _templates: list[_Template] = field(default_factory=list)

    @classmethod
    def load(cls, paths: Iterable[Path]) -> Catalogue:
        catalogue = cls()
        for path in paths:
            with path.open("rb") as f:
                catalogue.add(tomllib.load(f), str(path))
        catalogue._index()
        return catalogue

    def add(self, data: Mapping[str, Any], origin: str) -> None:
        for section, table in data.items():
            if not isinstance(table, Mapping):
                raise ValueError(f"{origin}: [{section}] is not a table")
            if section == "labels":
                for list_name, codes in table.items():
                    merged = self.labels.setdefault(list_name, {})
                    for code, texts in codes.items():
                        pair = _pair(texts, f"{origin}: labels.{list_name}.{code}")
                        if merged.setdefault(code, pair) != pair:
                            raise ValueError(f"{origin}: labels.{list_name}.{code} differs "
                                             "from its label in another file")
                continue
            for key, texts in table.items():
                name = f"{origin}: {section}.{key}"
                pair = _pair(texts, name)
                twin = next((n for n, t in self.entries.items()
                             if t[SOURCE] == pair[SOURCE] and t != pair), None)
                if twin is not None:
                    raise ValueError(f"{name} and {twin}: one English text, two translations")
                self.entries[name] = pair

    def _index(self) -> None:
        templated: list[_Template] = []
        for name, texts in self.entries.items():
            source = texts[SOURCE]
            if _placeholders(source) != _placeholders(texts[DEFAULT]):
                raise ValueError(f"{name}: the nl and en texts name different placeholders")
            if not _placeholders(source) and "{{" not in source:
                self._exact[source] = texts
                continue
            pattern, literal = _compile(source)
            templated.append(_Template(pattern, texts[DEFAULT], literal))
        # The most specific template first: "no signal {id} in your organisation" before "{x}".
        self._templates = sorted(templated, key=lambda t: -t.literal_length)

    def knows(self, text: str) -> bool:
        """Whether the catalogue has a translation for this (English) text."""
        return text in self._exact or (len(text) <= MAX_TEMPLATED_CHARS and any(
            t.pattern.fullmatch(text) for t in self._templates))

    def translate(self, text: str, lang: str, _depth: int = 0) -> str:
        if lang == SOURCE or not text:
            return text
        exact = self._exact.get(text)
        if exact is not None:
            return exact[lang]
        if len(text) > MAX_TEMPLATED_CHARS:
            return text
        for template in self._templates:
            match = template.pattern.fullmatch(text)
            if match is None:
                continue
            values = match.groupdict()
            if _depth < 2:  # a caught text that is a catalogue text itself is translated too
                values = {k: self._translate_part(v, lang, _depth + 1)
                          for k, v in values.items()}
            return template.target.format_map(values)
        return text

    def _translate_part(self, text: str, lang: str, depth: int) -> str:
        """A caught part: one catalogue text, or sentences joined by spaces (the covenant's
        refusals in one detail), each translated on its own."""
        sentences = _SENTENCE_END.split(text)
        if len(sentences) > 1 and all(self.knows(s) for s in sentences):
            return " ".join(self.translate(s, lang, depth) for s in sentences)
        return self.translate(text, lang, depth)

    def label(self, list_name: str, code: str, lang: str) -> str | None:
        texts = self.labels.get(list_name, {}).get(code)
        return None if texts is None else texts[lang]


def _pair(texts: Any, where: str) -> dict[str, str]:
    if not isinstance(texts, Mapping) or set(texts) != set(SUPPORTED) or not all(
            isinstance(v, str) and v.strip() for v in texts.values()):
        raise ValueError(f"{where}: needs exactly a non-empty nl and en text")
    return {k: str(v) for k, v in texts.items()}


def catalogue_paths() -> list[Path]:
    """The shared catalogue and every service's (`services/<name>/messages.toml`, labels.toml).

    All services' files: a text is matched, not keyed, so one catalogue serves every app."""
    service_files = [*_SERVICES_DIR.glob("*/messages.toml"), *_SERVICES_DIR.glob("*/labels.toml")]
    return [_SHARED_DIR / "messages.toml", *sorted(service_files)]


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue, read once per process."""
    return Catalogue.load(catalogue_paths())


def translate(text: str, lang: str | None = None) -> str:
    return catalogue().translate(text, lang or current_language())


def label(list_name: str, code: str | None, lang: str | None = None) -> str | None:
    """The label of a code in the request's language; None for no code (or an unknown one)."""
    if code is None:
        return None
    return catalogue().label(list_name, str(code), lang or current_language())


def localise_problem(body: dict[str, Any], lang: str) -> dict[str, Any]:
    """The problem with its texts for people in `lang`; codes and names as they were."""
    book = catalogue()
    for key in TRANSLATED:
        value = body.get(key)
        if isinstance(value, str):
            body[key] = book.translate(value, lang)
    for key in NESTED:
        items = body.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    localise_problem(item, lang)
    return body


def _with_vary(headers: list[tuple[bytes, bytes]]) -> None:
    """Add Accept-Language to the Vary the answer has (appended, never overwritten)."""
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            tokens = {t.strip().lower() for t in value.split(b",")}
            if b"*" not in tokens and b"accept-language" not in tokens:
                headers[i] = (name, value + b", Accept-Language")
            return
    headers.append((b"vary", b"Accept-Language"))


class LanguageMiddleware:
    """Pure ASGI: negotiates the language, tags the answer, translates Dutch problems."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        catalogue()  # read (and checked) at start-up, not on a first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLOCALISED):
            await self.app(scope, receive, send)
            return
        header = None
        for key, value in scope.get("headers", ()):
            if key == b"accept-language":
                header = value.decode("latin-1")
                break
        lang = negotiate(header)
        token = _language.set(lang)
        held: list[Message] = []  # a Dutch problem's start and body parts, until complete

        async def send_localised(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-language", lang.encode()))
                _with_vary(headers)
                message["headers"] = headers
                if lang != SOURCE and _is_problem(headers):
                    held.append(message)
                    return
            elif held and message["type"] == "http.response.body":
                held.append(message)
                if message.get("more_body"):
                    return
                await _send_translated(held, lang, send)
                held.clear()
                return
            await send(message)

        try:
            await self.app(scope, receive, send_localised)
        finally:
            _language.reset(token)


def _is_problem(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and v.startswith(PROBLEM_JSON.encode())
               for k, v in headers)


async def _send_translated(held: list[Message], lang: str, send: Send) -> None:
    start, parts = held[0], held[1:]
    raw = b"".join(p.get("body", b"") for p in parts)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        raw = orjson.dumps(localise_problem(body, lang))
    start["headers"] = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
    start["headers"].append((b"content-length", str(len(raw)).encode()))
    await send(start)
    await send({"type": "http.response.body", "body": raw})


CONTENT_LANGUAGE_HEADER = {"$ref": "#/components/headers/Content-Language"}


def document(spec: dict[str, Any]) -> None:
    """Say in the OpenAPI document that every answer has a language (and how to choose it)."""
    spec.setdefault("components", {}).setdefault("headers", {})["Content-Language"] = {
        "description": "The language of the texts for people in this answer (problem title "
                       "and detail, `...Label` fields): nl, or en when `Accept-Language` "
                       "prefers it (q-values count; any other language gets nl)",
        "schema": {"type": "string", "enum": list(SUPPORTED)},
    }
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                for response in operation.get("responses", {}).values():
                    response.setdefault("headers", {})["Content-Language"] = (
                        CONTENT_LANGUAGE_HEADER)


def install(app: Any) -> None:
    """Wire the language middleware into an app (outside the conventions and rate limit, so
    their problems are translated too)."""
    app.add_middleware(LanguageMiddleware)
