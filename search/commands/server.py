"""``vecdex serve`` and ``vecdex token`` (the HTTP API in :mod:`vecdex.search.server`):
registered on the main command group by :mod:`vecdex.cli`. Only click is imported
here, so ``vecdex --help`` stays instant."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import click

from ...errors import ConfigError, StoreError


def _db_option(fn):
    return click.option("--db", default=None, metavar="PATH",
                        help="The store (SQLite file) [default: vecdex --db, $VECDEX_DB, ./vecdex.db].")(fn)


def _db(ctx: click.Context, db: str | None) -> str:
    return db or ctx.obj["db"]


@click.command(epilog="""
\b
Examples:
  vecdex serve                                   # http://127.0.0.1:8000 (open while the store has no token)
  vecdex serve --db news.db --port 9000 --workers 4
  vecdex token create --scope admin              # then: anything but localhost is allowed
  vecdex serve --host 0.0.0.0 --workers 4
  curl -s localhost:8000/v1/collections/default/search -d '{"query": "floods", "k": 3}'
""")
@_db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (each holds its own caches; all read and write the one store).")
@click.option("--max-body-mb", type=click.FloatRange(min=0.001), default=16.0, show_default=True,
              help="Largest request body (413 above it).")
@click.option("--max-k", type=click.IntRange(min=1), default=1000, show_default=True, help="Largest k of a search.")
@click.option("--max-batch", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Most documents, ids or queries in one request.")
@click.option("--read-timeout", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seconds a read waits for its min_seq before answering 503.")
@click.option("--graceful-timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="On SIGTERM, seconds to let requests in flight finish.")
@click.option("--access-log", is_flag=True, help="Log every request (uvicorn's access log).")
@click.pass_context
def serve(ctx, db, host, port, workers, max_body_mb, max_k, max_batch, read_timeout, graceful_timeout, access_log):
    """Serve the store over HTTP: JSON API (/docs), search page (/), /metrics."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise ConfigError("vecdex serve needs the server extra: pip install 'vecdex[server]'") from None
    from ..server.settings import Settings, is_loopback

    settings = Settings(db=_db(ctx, db), max_body_bytes=int(max_body_mb * 2**20), max_k=max_k,
                        max_batch=max_batch, read_timeout=read_timeout)
    _check_store(settings.db, host)
    os.environ.update(settings.to_env())
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Request counts of every worker, summed on /metrics (prometheus_client multiprocess mode).
        metrics_dir = tempfile.mkdtemp(prefix="vecdex-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    where = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    click.echo(f"vecdex: serving {settings.db} on {where} ({workers} worker{'s' if workers > 1 else ''}"
               f"{'' if is_loopback(host) else ', tokens required'}); docs at {where}/docs", err=True)
    try:
        uvicorn.run("vecdex.search.server.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    timeout_graceful_shutdown=graceful_timeout, access_log=access_log, log_level="info",
                    server_header=False)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _check_store(db: str, host: str) -> None:
    """Open (and migrate) the store before any worker starts; refuse a public address
    while the store has no token."""
    from ...storage.backends import open_store
    from ...storage.tokens import TokenTable
    from ..server.settings import is_loopback

    store = open_store(db)
    try:
        has_tokens = bool(TokenTable(store).all())
    finally:
        store.close()
    if not is_loopback(host) and not has_tokens:
        raise StoreError(
            f"refusing to listen on {host} without authentication: the store has no token. "
            f"Make one first (vecdex --db {db} token create --scope admin), or serve on 127.0.0.1")


@click.group()
def token():
    """Bearer tokens for `vecdex serve` (stored hashed in the store)."""


@token.command("create", epilog="""
\b
Examples:
  vecdex token create --scope read --collection docs     # prints the token once
  vecdex token create --scope admin --name ops
""")
@_db_option
@click.option("--scope", type=click.Choice(["read", "write", "admin"]), required=True,
              help="read: list, get, search; write: also add and delete documents; admin: also create and "
                   "drop collections.")
@click.option("--collection", "-c", "collections", multiple=True, metavar="NAME",
              help="Limit the token to this collection (repeatable) [default: all].")
@click.option("--name", default=None, help="A note to recognise the token by in `vecdex token list`.")
@click.option("--json", "as_json", is_flag=True, help="Print {id, token, scope, collections} as JSON.")
@click.pass_context
def token_create(ctx, db, scope, collections, name, as_json):
    """Make a token and print it (only its SHA-256 digest is stored: it cannot be shown again)."""
    from ...storage.backends import open_store
    from ..server.auth import mint

    store = open_store(_db(ctx, db))
    try:
        secret, record = mint(store, scope, list(collections) or None, name)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({**record.public(), "token": secret}))
    else:
        click.echo(secret)
        click.echo(f"token {record.id}: scope {scope}"
                   + (f", collections {', '.join(collections)}" if collections else ", all collections")
                   + " (shown once: keep it)", err=True)


@token.command("list")
@_db_option
@click.option("--json", "as_json", is_flag=True, help="JSON lines.")
@click.pass_context
def token_list(ctx, db, as_json):
    """The store's tokens (id, scope, collections; never the tokens themselves)."""
    from ...storage.backends import open_store
    from ...storage.tokens import TokenTable

    store = open_store(_db(ctx, db), create=False)
    try:
        records = TokenTable(store).all()
    finally:
        store.close()
    for record in records:
        row = record.public()
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(f"{row['id']}\t{row['scope']}\t{','.join(row['collections'] or ['*'])}\t{row['name'] or ''}")


@token.command("revoke")
@_db_option
@click.argument("token_id")
@click.pass_context
def token_revoke(ctx, db, token_id):
    """Revoke a token by its id (from `vecdex token list`); every worker refuses it at once."""
    from ...storage.backends import open_store
    from ...storage.tokens import TokenTable

    store = open_store(_db(ctx, db), create=False)
    try:
        removed = TokenTable(store).remove(token_id)
    finally:
        store.close()
    if not removed:
        raise StoreError(f"no token with id {token_id!r} (see: vecdex token list)")
    click.echo(f"token {token_id} revoked", err=True)
