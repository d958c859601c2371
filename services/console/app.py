"""The console app: pages, sign-in, security headers, and the assets it serves itself."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import plotly
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from services.console import signin
from services.console.backend import SERVICE_NAMES_NL, ApiProblem, ServiceDown, SignedOut
from services.console.codelists import CODE_LIST_SERVICES, CodeLists
from services.console.i18n import language, translate
from services.console.pages import admin, analyst, coordinator, funding, privacy
from services.console.session import COOKIE, Session, SessionCodec
from services.console.settings import Settings
from services.console.web import CsrfFailed, NotSignedIn, redirect, render, session_of

log = logging.getLogger("console")
HERE = Path(__file__).parent

#: No inline script, nothing from elsewhere. Styles allow 'unsafe-inline' because plotly and
#: its map library set style elements at run time; the map's workers start from blob: URLs.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
       "worker-src 'self' blob:; child-src blob:; frame-ancestors 'none'; form-action 'self'; "
       "base-uri 'none'; object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: url path -> file inside the npm packages' folder
NPM_ASSETS = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "utrecht.css": "@utrecht/component-library-css/dist/index.css",
    "utrecht-theme.css": "@utrecht/design-tokens/dist/index.css",
}


def build(settings: Settings | None = None) -> FastAPI:
    s = settings or Settings()
    codec = SessionCodec(s.session_secret.get_secret_value(), s.session_max_age_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=s.api_timeout_s) as client:
            app.state.http = client
            yield

    app = FastAPI(title="Dicht de kloof: console", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.state.settings = s
    app.state.session_codec = codec  # the OpenID Connect sign-in keeps its state by it
    app.state.code_lists = {service: CodeLists(service) for service in CODE_LIST_SERVICES}

    @app.middleware("http")
    async def sessions_and_headers(request: Request,
                                   call_next: Callable[[Request], Awaitable[Response]]
                                   ) -> Response:
        before = request.cookies.get(COOKIE)
        session = codec.load(before) or Session()
        request.state.session = session
        request.state.session_cleared = False
        dumped = repr(session.__dict__)
        response = await call_next(request)
        if request.state.session_cleared:
            codec.clear(response)
        elif before is None or repr(session.__dict__) != dumped:
            codec.write(request, response, session)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith(("/assets/", "/static/")):
            # Pages may hold personal data: never cached, not even in the browser's history.
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _exc: Exception) -> Response:
        return redirect("/aanmelden")

    @app.exception_handler(SignedOut)
    async def signed_out(request: Request, _exc: Exception) -> Response:
        request.state.session_cleared = True
        return redirect("/aanmelden")

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, _exc: Exception) -> Response:
        return render(request, "error.html", 403,
                      message=translate(language(request), "csrf_failed"))

    @app.exception_handler(ServiceDown)
    async def service_down(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceDown)
        lang = language(request)
        name = SERVICE_NAMES_NL.get(exc.service, exc.service) if lang == "nl" else exc.service
        return render(request, "error.html", 503,
                      message=translate(lang, "service_down", service=name))

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblem)
        return render(request, "error.html", exc.status if exc.status < 500 else 502,
                      problem=exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        lang = language(request)
        message = (translate(lang, "forbidden") if exc.status_code == 403
                   else str(exc.detail))
        return render(request, "error.html", exc.status_code, message=message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return render(request, "error.html", 500,
                      message=translate(language(request), "error"))

    @app.get("/livez", include_in_schema=False)
    async def livez() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/assets/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name == "plotly.min.js":
            path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        elif name in NPM_ASSETS:
            path = s.assets_path() / NPM_ASSETS[name]
        else:
            raise HTTPException(404)
        if not path.is_file():
            raise HTTPException(404, f"{name} is not installed: run `make console-assets`")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/taal/{lang}", include_in_schema=False)
    async def switch_language(request: Request, lang: str, terug: str = "/") -> Response:
        target = terug if terug.startswith("/") and not terug.startswith("//") else "/"
        response = redirect(target)
        if lang in ("nl", "en"):
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="strict",
                                httponly=True)
        return response

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        s_ = session_of(request)
        if not s_.signed_in:
            return redirect("/aanmelden")
        return render(request, "home.html")

    app.include_router(signin.router)
    app.include_router(coordinator.router)
    app.include_router(privacy.router)
    app.include_router(funding.router)
    app.include_router(analyst.router)
    app.include_router(admin.router)
    return app


def app() -> FastAPI:
    """uvicorn factory: `uvicorn --factory services.console.app:app`."""
    return build()
