"""Session operations: list and end your own sessions; an admin's view of a user's."""

from typing import Any
from uuid import UUID

from flask.views import MethodView
from flask_smorest import abort

from ..auth import links
from ..core import audit, errors
from ..tokens import service as tokens
from ..tokens.security import Blueprint, current_claims
from ..users import service as users
from ..users.models import MAX_ID
from .schemas import SessionSchema

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/users",
    description="Sessions (one per login): see them, end one, end all others.",
)


SESSION_LINKS = {
    "DeleteMySession": {
        "operationId": "deleteMySession",
        "parameters": {
            "path.session_id": "$response.body#/0/id",
            "header.Authorization": links.SAME_TOKEN,
        },
        "description": "End the most recently used session (the first listed).",
    },
    "DeleteMyOtherSessions": {
        "operationId": "deleteMyOtherSessions",
        "parameters": {"header.Authorization": links.SAME_TOKEN},
        "description": "End every session but this one.",
    },
}


def _page(user_id: int, pagination: Any, current: str | None) -> list[dict[str, Any]]:
    """One page of the user's sessions, most recently used first (at most
    ``MAX_SESSIONS_PER_USER`` exist, so the page is cut in memory)."""
    sessions = tokens.sessions_of(user_id)
    pagination.item_count = len(sessions)
    start = (pagination.page - 1) * pagination.page_size
    return [_shown(session, current) for session in sessions[start : start + pagination.page_size]]


def _shown(session: tokens.SessionRecord, current: str | None) -> dict[str, Any]:
    """What a user may see of a session (not its refresh token id nor its epoch)."""
    return {
        "id": session.id,
        "created_at": session.created_at,
        "last_used_at": session.last_used_at,
        "expires_at": session.expires_at,
        "user_agent": session.user_agent,
        "ip": session.ip,
        "current": session.id == current,
    }


def _caller() -> tuple[int, str]:
    claims = current_claims()
    return int(claims["sub"]), str(claims["fam"])


@blp.route("/me/sessions")
class MySessions(MethodView):
    @blp.doc(operationId="listMySessions")
    @links.links(blp, 200, SESSION_LINKS)
    @blp.auth_required()
    @blp.response(200, SessionSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[dict[str, Any]]:
        """List my sessions (most recently used first)"""
        user_id, current = _caller()
        return _page(user_id, pagination_parameters, current)

    @blp.doc(operationId="deleteMyOtherSessions")
    @blp.auth_required()
    @blp.response(204)
    def delete(self) -> None:
        """End every other session ("sign out everywhere else")"""
        user_id, current = _caller()
        ended = tokens.end_sessions(user_id, keep=current)
        audit.event("sessions.ended", user_id=user_id, count=ended, kept=current)


@blp.route("/me/sessions/<uuid:session_id>")
class MySession(MethodView):
    @blp.doc(operationId="deleteMySession")
    @blp.auth_required()
    @blp.response(204)
    @blp.alt_response(404, response=errors.response_name(404))
    def delete(self, session_id: UUID) -> None:
        """End one of my sessions; its tokens stop working at once"""
        user_id, _ = _caller()
        if not tokens.end_session(user_id, str(session_id)):
            abort(404, message="No such session.")  # also another user's: no enumeration
        audit.event("session.ended", user_id=user_id, session=str(session_id))


def _user_or_404(user_id: int) -> None:
    if users.get(user_id) is None:
        abort(404, message="No such user.")


@blp.route(f"/<int(min=1, max={MAX_ID}):user_id>/sessions")
class UserSessions(MethodView):
    @blp.doc(operationId="listUserSessions")
    @blp.auth_required(roles=["admin"])
    @blp.response(200, SessionSchema(many=True))
    @blp.alt_response(404, response=errors.response_name(404))
    @blp.paginate()
    def get(self, user_id: int, pagination_parameters: Any) -> list[dict[str, Any]]:
        """List a user's sessions (admin)"""
        _user_or_404(user_id)
        return _page(user_id, pagination_parameters, current_claims().get("fam"))

    @blp.doc(operationId="deleteUserSessions")
    @blp.auth_required(roles=["admin"])
    @blp.response(204)
    @blp.alt_response(404, response=errors.response_name(404))
    def delete(self, user_id: int) -> None:
        """End every session of a user (admin)"""
        _user_or_404(user_id)
        ended = tokens.end_sessions(user_id)
        audit.event(
            "sessions.ended", user_id=user_id, count=ended, actor=int(current_claims()["sub"])
        )
