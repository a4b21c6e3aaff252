"""``flask keys ...`` (rotation) and ``flask tokens purge``."""

import click
from flask import current_app
from flask.cli import AppGroup

from ..core.extensions import db
from . import service
from .keys import KeyDirectory

keys_cli = AppGroup("keys", help="Manage the token signing keys.")
tokens_cli = AppGroup("tokens", help="Maintain the token store.")


def _directory() -> KeyDirectory:
    if current_app.config["JWT_ALGORITHM"].startswith("HS"):
        algorithm = current_app.config["JWT_ALGORITHM"]
        raise click.ClickException(
            f"{algorithm} uses FLASK_JWT_SECRET_KEY; there are no keys to manage"
        )
    return KeyDirectory(current_app.config["KEYS_DIR"])


@keys_cli.command("list")
def list_keys() -> None:
    """List key ids; the current signing key is marked with '*'."""
    directory = _directory()
    keys, current = directory.load()
    for kid, key in keys.items():
        click.echo(f"{'*' if kid == current else ' '} {kid} {key.algorithm}")


@keys_cli.command("rotate")
def rotate() -> None:
    """Make a new signing key current; older keys keep verifying."""
    kid = _directory().rotate(current_app.config["JWT_ALGORITHM"])
    click.echo(f"new current key: {kid}")


@keys_cli.command("retire", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
def retire(kid: str) -> None:
    """Delete a key: tokens it signed stop verifying."""
    try:
        _directory().retire(kid)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    except KeyError:
        raise click.ClickException(f"no key {kid!r}") from None
    click.echo(f"retired key: {kid}")


@tokens_cli.command("purge")
def purge() -> None:
    """Delete expired revocations and refresh-token records."""
    removed = service.store().purge()
    db.session.commit()
    click.echo(f"purged {removed} expired records")
