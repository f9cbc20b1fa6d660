"""Every /ui route in one router, and the static files (htmx, axe-core, CSS) to mount at /ui/static."""

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from stockledger.web import auth, forms, pages, reservation_forms, resets
from stockledger.web.templating import STATIC_DIR

router = APIRouter()
router.include_router(auth.router)
router.include_router(pages.router)
router.include_router(forms.router)
router.include_router(reservation_forms.router)
router.include_router(resets.router)

static_files = StaticFiles(directory=STATIC_DIR)
