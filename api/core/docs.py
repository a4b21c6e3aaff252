"""Swagger UI assets served by the app itself (works offline, strict CSP)."""

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint

# flask-swagger-ui ships Swagger UI 5 (renders OpenAPI 3.1); we use only its files.
ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"

assets = Blueprint(
    "swagger_ui_assets", __name__, static_folder=str(ASSETS), static_url_path="/swagger-ui-assets"
)
