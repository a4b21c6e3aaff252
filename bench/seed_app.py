"""The baseline: the classic flask-jwt-extended tutorial app (HS256, no revocation).

Kept deliberately naive, as the tutorials write it; the benchmark compares the
API's protected route against this one's. ``BENCH_SEED_SECRET`` sets the HS256 key.
"""

import os

from flask import Flask, jsonify
from flask_jwt_extended import JWTManager, create_access_token, get_jwt_identity, jwt_required

app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = os.environ.get("BENCH_SEED_SECRET", "x" * 48)
jwt = JWTManager(app)


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.get("/protected")
@jwt_required()
def protected():
    return jsonify(logged_in_as=get_jwt_identity()), 200


def token(identity="bench"):
    """An access token for the seed app (made in the benchmark process)."""
    with app.app_context():
        return create_access_token(identity=identity)
