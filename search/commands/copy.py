"""``vecdex copy SRC DST``: move collections between stores (SQLite <-> PostgreSQL)."""

from __future__ import annotations

import json
import sys

import click

from .shared import json_option


@click.command("copy", epilog="""
\b
Examples:
  vecdex copy vecdex.db postgresql+psycopg://me@dbhost/search      # every collection, up to PostgreSQL
  vecdex copy postgresql+psycopg://me@dbhost/search local.db -c news
""")
@click.argument("source", metavar="SRC_URL")
@click.argument("target", metavar="DST_URL")
@click.option("--collection", "-c", "names", multiple=True, help="Copy only this collection (repeatable).")
@click.option("--batch", default=500, show_default=True, help="Documents per destination transaction.")
@json_option
def copy_command(source, target, names, batch, as_json):
    """Copy collections from SRC_URL to DST_URL (a SQLite file or a PostgreSQL URL)
    with their documents, metadata, vectors and specs: the copy answers queries
    identically. Resumable: documents already copied (same content) are skipped,
    so after an interruption run the same command again."""
    from tqdm import tqdm

    from ...errors import StoreError
    from ...storage.backends import open_store
    from ...storage.copy import copy_collection
    from ...storage.document_log import store_id

    src = open_store(source, create=False)
    try:
        dst = open_store(target, create=True)
        try:
            if store_id(src) == store_id(dst):
                raise StoreError(f"{src.location} and {dst.location} are the same store (one store id)")
            wanted = list(names) or [c.name for c in src.list_collections()]
            if not wanted:
                raise StoreError(f"no collections in {src.location}")
            for name in wanted:
                info = src.get_collection(name)
                total = src.counts(info.id)[0] if info is not None else 0
                with tqdm(total=total, desc=name, unit=" docs", file=sys.stderr, dynamic_ncols=True,
                          disable=as_json or None) as bar:
                    report = copy_collection(src, dst, name, batch=batch, progress=bar.update)
                row = {"collection": name, "documents": report.documents, "copied": report.copied,
                       "skipped": report.skipped, "to": dst.location}
                if as_json:
                    click.echo(json.dumps(row))
                else:
                    click.echo(f"{name}: {report.copied:,} documents copied, {report.skipped:,} already there "
                               f"({report.documents:,} in the source) -> {dst.location}")
        finally:
            dst.close()
    finally:
        src.close()
