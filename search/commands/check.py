"""``vecdex check``: verify a store and its caches (``--repair`` rebuilds what can be rebuilt)."""

from __future__ import annotations

import click

from ...errors import StoreError


@click.command(epilog="""
\b
Examples:
  vecdex check                       # the whole store: exit 1 and one line per problem
  vecdex check --collection news --json
  vecdex check --repair              # rebuild caches, remove stray files (never a document)
""")
@click.option("--collection", "-c", default=None, help="Check only this collection [default: all].")
@click.option("--repair", is_flag=True, help="Rebuild damaged caches and remove stray files first.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for machines.")
@click.pass_context
def check(ctx: click.Context, collection: str | None, repair: bool, as_json: bool) -> None:
    """Verify the store: SQLite integrity, documents and their chunks, vectors,
    index files and stray files. Exit 1 when a problem remains."""
    from ...storage.check import format_report
    from .. import Vecdex

    with Vecdex(ctx.obj["db"], create=False) as vx:
        if repair and vx.store.read_only:
            raise StoreError(f"{vx.store.path} is read-only: check it without --repair")
        report = vx.check(repair=repair, collection=collection)
    click.echo(format_report(report, as_json))
    if not report.ok:
        ctx.exit(1)
