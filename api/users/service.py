"""User accounts: create, authenticate, look up, delete. No request objects here."""

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..tokens import service as tokens
from .models import User


class UsernameTaken(Exception):
    """The username is already registered (409)."""


class WrongPassword(Exception):
    """The current password given for a change is wrong (401)."""


def passwords():
    return current_app.extensions["passwords"]


def create(username, password, *, is_admin=False):
    """Create a user; the unique constraint, not a prior read, decides conflicts."""
    user = User(username=username, password_hash=passwords().hash(password), is_admin=is_admin)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise UsernameTaken(username) from None
    return user


def authenticate(username, password):
    """The user if the password matches, else None, at the same cost either way."""
    user = None
    if "\x00" not in username:  # no username has NUL, and PostgreSQL text cannot hold it
        query = select(User).where(User.username == username)
        user = db.session.execute(query).scalar_one_or_none()
    if not passwords().verify(user.password_hash if user else None, password):
        return None
    if passwords().needs_rehash(user.password_hash):
        user.password_hash = passwords().hash(password)
        db.session.commit()
    return user


def get(user_id):
    return db.session.get(User, user_id)


def page(page_number, page_size):
    """One page of users by id, and the total count."""
    total = db.session.scalar(select(func.count()).select_from(User))
    offset = (page_number - 1) * page_size
    if offset >= total:  # also keeps huge page numbers out of SQL (64-bit OFFSET)
        return [], total
    query = select(User).order_by(User.id).offset(offset).limit(page_size)
    return list(db.session.scalars(query)), total


def change_password(user, current_password, new_password, *, keep_family):
    """Set a new password and end every other session of the user."""
    if not passwords().verify(user.password_hash, current_password):
        raise WrongPassword()
    user.password_hash = passwords().hash(new_password)
    tokens.revoke_user(user.id, keep_family=keep_family)
    db.session.commit()


def delete(user):
    """Delete a user; every token they hold stops working at once."""
    tokens.revoke_user(user.id)
    db.session.delete(user)
    db.session.commit()
