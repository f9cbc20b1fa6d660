"""/docs (Swagger UI) and /redoc (ReDoc) from the app's own static files: no request leaves the host.

FastAPI's defaults load both from a CDN, so the docs were blank on a machine without internet.
The bundles are vendored under web/static/vendor with their licences (swagger-ui-dist 5.35.0,
redoc 2.5.4, from the npm registry)."""

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from stockledger.web.templating import STATIC_DIR

VENDOR = "/ui/static/vendor"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"

router = APIRouter(include_in_schema=False)
CACHED = {"Cache-Control": "public, max-age=86400"}


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="stockledger API",
        oauth2_redirect_url=OAUTH2_REDIRECT,
        swagger_js_url=f"{VENDOR}/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui.css",
        swagger_favicon_url=f"{VENDOR}/favicon-32x32.png",
    )


@router.get(OAUTH2_REDIRECT)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="stockledger API",
        redoc_js_url=f"{VENDOR}/redoc.standalone.js",
        redoc_favicon_url=f"{VENDOR}/favicon-32x32.png",
        with_google_fonts=False,
    )


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """What a browser asks for by itself before any page names its icon: the pages' own (an SVG;
    browsers go by the content type, not the name), so no page logs a 404."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml", headers=CACHED)
