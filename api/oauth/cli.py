"""``flask clients create NAME | list | delete ID``: the clients that may introspect."""

import json

import click
from flask.cli import AppGroup

from ..core.database import needs_schema
from . import clients

clients_cli = AppGroup("clients", help="Manage OAuth clients (token introspection).")


@clients_cli.command("create")
@click.argument("name")
@needs_schema
def create(name: str) -> None:
    """Register a client; prints its id and secret (shown only this once) as JSON."""
    name = name.strip()
    if not name or len(name) > clients.NAME_MAX or not name.isprintable():
        raise click.BadParameter(f"1-{clients.NAME_MAX} printable characters", param_hint="'NAME'")
    client, secret = clients.create(name)
    click.echo(json.dumps({"client_id": client.client_id, "client_secret": secret}))


@clients_cli.command("list")
@needs_schema
def list_clients() -> None:
    """One line per client: id, creation time, name."""
    for client in clients.all_clients():
        click.echo(f"{client.client_id} {client.created_at.isoformat()} {client.name}")


@clients_cli.command("delete", context_settings={"ignore_unknown_options": True})
@click.argument("client_id")
@needs_schema
def delete(client_id: str) -> None:
    """Delete a client: its credentials stop working at once."""
    if not clients.remove(client_id):
        raise click.ClickException(f"no client {client_id!r}")
    click.echo(f"deleted client {client_id}")
