"""``flask users create USERNAME [--admin]``: accounts for operators."""

import sys
from typing import cast

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from ..core.database import needs_schema
from . import service
from .schemas import RegisterSchema

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Give the account the admin role.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@needs_schema
def create(username: str, admin: bool, password_stdin: bool) -> None:
    """Create a user; the password is prompted for, or read from stdin."""
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        RegisterSchema().load({"username": username, "password": password})
    except ValidationError as error:
        for field, messages in cast(dict[str, list[str]], error.messages).items():
            click.echo(f"{field}: {' '.join(messages)}", err=True)
        raise SystemExit(2) from None
    try:
        user = service.create(username, password, is_admin=admin)
    except service.UsernameTaken:
        raise click.ClickException(f"user {username!r} already exists") from None
    roles = ", ".join(user.roles)
    click.echo(f"created user {user.username} (id {user.id}, roles: {roles})")
