"""``flask`` commands: organisations, tokens, catalogue import and demo data."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from warehouse import catalogue_import, demo, tables, tokens
from warehouse.catalogue_import import FileFormat
from warehouse.db import db
from warehouse.domain.roles import Role
from warehouse.services import partitions
from warehouse.services.catalogue import ImportRecord, ImportReport, import_records
from warehouse.web.auth import AUTH_CACHE_CONFIG, DEFAULT_AUTH_CACHE_SECONDS, forget_token

tokens_cli = AppGroup("tokens", help="Issue, list and revoke API tokens.")
orgs_cli = AppGroup("orgs", help="Create and list organisations.")
demo_cli = AppGroup("demo", help="Demo data for trying the service out.")
catalogue_cli = AppGroup("catalogue", help="Import the device catalogue.")
events_cli = AppGroup("events", help="Maintain the event history.")


def register(app: Flask) -> None:
    """Add the command groups to ``app.cli``."""
    for group in (tokens_cli, orgs_cli, demo_cli, catalogue_cli, events_cli):
        app.cli.add_command(group)


def _resolve_org(reference: str) -> uuid.UUID:
    """Accept an organisation id or its unified social credit code."""
    org = tables.organisations
    try:
        condition = org.c.id == uuid.UUID(reference)
    except ValueError:
        condition = org.c.credit_code == reference.upper()
    found = db.session.execute(select(org.c.id).where(condition)).scalar_one_or_none()
    if found is None:
        raise click.BadParameter(f"Expected an organisation id or credit code, got {reference!r}.")
    return found


@tokens_cli.command("create")
@click.option("--org", "org_ref", required=True, help="Organisation id or credit code.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="Role to grant; repeat for several.",
)
@click.option("--name", default="cli token", show_default=True, help="What the token is for.")
@click.option("--jurisdiction", default=None, help="Regulators: division code prefix, e.g. 3502.")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
def create_token_command(
    org_ref: str,
    roles: tuple[str, ...],
    name: str,
    jurisdiction: str | None,
    expires_in_days: int | None,
) -> None:
    """Issue a token; it is printed once and cannot be shown again."""
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        issued = tokens.create_token(
            db.session,
            organisation_id=_resolve_org(org_ref),
            roles=tuple(Role(role) for role in roles),
            name=name,
            jurisdiction=jurisdiction,
            expires_at=expires_at,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"token id: {issued.id}")
    click.echo(f"token:    {issued.secret}")
    click.echo("Store it now: only its SHA-256 hash is kept.", err=True)


@tokens_cli.command("revoke")
@click.argument("token_id", type=click.UUID)
def revoke_token_command(token_id: uuid.UUID) -> None:
    """Revoke a token at once."""
    try:
        tokens.revoke_token(db.session, token_id)
    except tokens.UnknownToken as error:
        raise click.BadParameter(str(error)) from None
    forget_token(token_id)
    click.echo(f"revoked {token_id}")
    seconds = current_app.config.get(AUTH_CACHE_CONFIG, DEFAULT_AUTH_CACHE_SECONDS)
    click.echo(f"Running servers refuse it within {seconds:g} s ({AUTH_CACHE_CONFIG}).", err=True)


@tokens_cli.command("list")
@click.option("--org", "org_ref", default=None, help="Only this organisation's tokens.")
def list_tokens_command(org_ref: str | None) -> None:
    """List tokens (prefix, roles, state), never their secrets."""
    query = select(tables.api_tokens).order_by(tables.api_tokens.c.created_at)
    if org_ref:
        query = query.where(tables.api_tokens.c.organisation_id == _resolve_org(org_ref))
    for row in db.session.execute(query).mappings():
        state = "revoked" if row["revoked_at"] else "active"
        roles = ",".join(row["roles"])
        click.echo(f"{row['id']}  {row['prefix']}…  {state:7}  {roles:30}  {row['name']}")


@orgs_cli.command("create")
@click.option("--name", required=True)
@click.option("--credit-code", required=True, help="18-character unified social credit code.")
@click.option("--jurisdiction", required=True, help="6-digit administrative division code.")
@click.option("--role", "roles", multiple=True, required=True, help="Organisation role.")
def create_org_command(name: str, credit_code: str, jurisdiction: str, roles: tuple[str]) -> None:
    """Create an organisation (the full master-data API lives under /api/v1)."""
    org_id = demo.ensure_organisation(db.session, name, credit_code, jurisdiction, list(roles))
    db.session.commit()
    click.echo(str(org_id))


DEMO_HOOKS = "udi.demo_hooks"
"""``app.extensions`` key: functions ``(session) -> lines`` that packages above ``warehouse``
(which it must not import) add to ``flask demo load``, run after the warehouse demo data."""

DemoHook = Callable[[Session], Iterator[str]]


def add_demo_hook(app: Flask, hook: DemoHook) -> None:
    """Have ``flask demo load`` run ``hook`` after loading the warehouse demo data."""
    app.extensions.setdefault(DEMO_HOOKS, []).append(hook)


@demo_cli.command("load")
def load_demo_command() -> None:
    """Load the demo organisations and print a token for each role (idempotent)."""
    for line in demo.load(db.session):
        click.echo(line)
    for hook in current_app.extensions.get(DEMO_HOOKS, []):
        for line in hook(db.session):
            click.echo(line)


@catalogue_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice([f.value for f in FileFormat]),
    default=None,
    help="File format; default from the extension (.xml, .json, else csv).",
)
def import_catalogue_command(file: Path, file_format: str | None) -> None:
    """Import devices from FILE; bad records are reported and never stop good ones."""
    chosen = FileFormat(file_format) if file_format else FileFormat.guess(file)
    try:
        records = catalogue_import.read_records(file, chosen)
    except (ValueError, UnicodeDecodeError) as error:
        raise click.ClickException(f"Cannot read {file} as {chosen}: {error}") from None
    with click.progressbar(length=len(records), label=f"importing {file.name}") as bar:
        report = import_records(db.session, _counted(records, bar.update))
    _print_report(report, len(records), "row" if chosen is FileFormat.CSV else "record")


def _counted(records: list[ImportRecord], tick: Callable[[int], None]) -> Iterator[ImportRecord]:
    for record in records:
        yield record
        tick(1)


def _print_report(report: ImportReport, total: int, unit: str) -> None:
    for number, org in report.created_registrants:
        click.echo(
            f"{unit} {number}: created registrant {org.name} ({org.credit_code}), "
            f"jurisdiction {org.jurisdiction} from its credit code"
        )
    for number, di in report.skipped:
        click.echo(f"{unit} {number}: skipped {di}, already in the catalogue")
    if report.issues:
        click.echo(f"\n{unit:>6}  {'field':28}  {'code':26}  message")
        for issue in report.issues:
            field = catalogue_import.file_field(issue.field)
            click.echo(f"{issue.number:>6}  {field:28}  {issue.code:26}  {issue.message}")
    click.echo(f"\n{'read':>10} {'imported':>9} {'skipped':>8} {'rejected':>9} {'registrants':>12}")
    click.echo(
        f"{total:>10} {len(report.imported):>9} {len(report.skipped):>8} "
        f"{report.rejected:>9} {len(report.created_registrants):>12}"
    )


@events_cli.command("partitions")
@click.option(
    "--months-ahead",
    type=click.IntRange(min=0, max=120),
    default=partitions.DEFAULT_MONTHS_AHEAD,
    show_default=True,
    help="Create the monthly partitions up to this many months after the current one.",
)
def partitions_command(months_ahead: int) -> None:
    """Create missing monthly partitions of events and event_items (PostgreSQL) and list them
    with their row counts; warn when a DEFAULT partition holds rows. Run it monthly."""
    report = partitions.maintain(db.session, months_ahead)
    if not report.partitioned:
        click.echo(
            "events and event_items are not partitioned on this database (SQLite keeps plain"
            " tables): nothing to do."
        )
        return
    for name in report.created:
        click.echo(f"created {name}")
    if not report.created:
        click.echo(f"every partition up to {months_ahead} month(s) ahead exists: nothing created")
    click.echo(f"\n{'table':12}  {'partition':24}  {'month':8}  {'rows':>12}")
    for p in report.partitions:
        month = "DEFAULT" if p.default else (f"{p.month:%Y-%m}" if p.month else "?")
        rows = "?" if p.rows is None else (str(p.rows) if p.default else f"~{p.rows}")
        click.echo(f"{p.table:12}  {p.name:24}  {month:8}  {rows:>12}")
    click.echo("(~: PostgreSQL's estimate as of the last ANALYZE; DEFAULT counts are exact)")
    for month in report.blocked:
        click.echo(
            f"warning: no partition created for {month:%Y-%m}: DEFAULT holds rows of that month;"
            " move them out by hand (docs/scaling.md)",
            err=True,
        )
    for name, rows in report.default_rows.items():
        click.echo(
            f"warning: {name} holds {rows} row(s); it should stay empty (ids of months without"
            " a partition land there, and the command moves nothing out of it)",
            err=True,
        )
