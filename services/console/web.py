"""What every page needs: the session, the user's API client, templates, CSRF and role checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from services.console.backend import Api
from services.console.codelists import CodeLists, Labels
from services.console.i18n import language, translate
from services.console.session import Session

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

#: `<`, `>` and `&` never occur in JSON outside strings; inside them their escapes mean the same
#: to JSON.parse, and `</script>` in a name typed by someone else cannot end the element.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def script_json(data: str) -> Markup:
    """JSON text (a chart's data) for a `<script type="application/json">` element."""
    return Markup(data.translate(_SCRIPT_SAFE))  # noqa: S704 (escaped just above)


TEMPLATES.env.filters["script_json"] = script_json

#: Which roles see which part of the console (the APIs decide what each may do).
SECTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("/werkvoorraad", "queue", ("coordinator",)),
    ("/privacy/toegangslog", "access_log", ("privacy-officer",)),
    ("/programmas", "programmes", ("programme-officer", "programme-approver", "analyst")),
    ("/kaart", "map", ("analyst",)),
    ("/beheer", "admin", ("admin",)),
]


class NotSignedIn(Exception):
    pass


class CsrfFailed(Exception):
    pass


def session_of(request: Request) -> Session:
    s: Session = request.state.session
    return s


def api(request: Request) -> Api:
    s = session_of(request)
    return Api(request.app.state.http, request.app.state.settings, s.token, language(request))


async def labels(request: Request, service: str = "signals") -> Labels:
    """A service's code lists in the page's language (cached; see codelists.py)."""
    lists: CodeLists = request.app.state.code_lists[service]
    return await lists.get(api(request), language(request))


def require(request: Request, *roles: str) -> Session:
    s = session_of(request)
    if not s.signed_in:
        raise NotSignedIn
    if roles and not s.has(*roles):
        raise HTTPException(403)
    return s


async def form_of(request: Request) -> dict[str, str]:
    """The posted form, after its CSRF token checked out."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not session_of(request).csrf_ok(values.get("csrf")):
        raise CsrfFailed
    return values


def render(request: Request, template: str, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    lang = language(request)
    s = session_of(request)

    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    sections = [(href, t(key)) for href, key, roles in SECTIONS if s.has(*roles)]
    return TEMPLATES.TemplateResponse(request, template, {
        "t": t, "lang": lang, "session": s, "csrf": s.csrf, "sections": sections,
        "path": request.url.path, **context}, status_code=status_code)


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)
