"""Commands that show what a store holds: info, collections, get.

Registered on the ``vecdex`` group by :mod:`vecdex.cli`.
"""

from __future__ import annotations

import json
from typing import Any

import click

from .shared import UserError, collection_option, json_option, open_store


@click.command(epilog="""
\b
Examples:
  vecdex info
  vecdex info --collection news --json
""")
@collection_option
@json_option
@click.pass_context
def info(ctx, collection, as_json):
    """Counts, model, dimension, index and sizes of a collection."""
    with open_store(ctx) as vx:
        stats = vx.collection(collection).stats()
    if as_json:
        click.echo(json.dumps(stats, ensure_ascii=False))
        return
    spec = stats["embedder"]
    fingerprint = str(spec.get("fingerprint", ""))[:19]
    index_file = stats["index_file"]
    rows = [
        ("collection", stats["collection"]),
        ("documents", f"{stats['documents']:,}"),
        ("chunks", f"{stats['chunks']:,}"),
        ("model", f"{stats['model']} ({spec.get('kind')}, {stats['dimension']}d, {fingerprint}…)"),
        ("pooling", f"{_pooling_text(spec)}; chunks of ≤{stats['chunking'].get('max_tokens')} tokens "
                    f"({stats['chunking'].get('unit')})"),
        ("index", f"{stats.get('index_description') or _spec_text(stats['index'])}; "
                  + (f"{index_file.rsplit('/', 1)[-1]} ({_size(stats['index_file_bytes'])}"
                     f"{', up to date' if stats['index_up_to_date'] else ', will catch up on next query'})"
                     if index_file else "no file yet (built on first query)")),
        ("store", f"{stats['store']}: {stats['db_path']} ({_size(stats['db_bytes'])})"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        click.echo(f"{name:<{width}}  {value}")


def _pooling_text(spec: dict[str, Any]) -> str:
    text = str(spec.get("pooling", "-"))
    if text == "sif":
        text += f" a={spec.get('sif_a')} p(w)={spec.get('word_freq')}"
    if spec.get("components"):
        fitted = (spec.get("fitted") or {}).get("components")
        text += f", {spec['components']} component(s) removed, fitted on {spec.get('fit')}"
        text += "" if fitted else " (not yet: too few chunks)"
    return text


def _spec_text(spec: dict[str, Any]) -> str:
    params = ",".join(f"{k}={v}" for k, v in spec.items() if k != "type")
    return spec.get("type", "?") + (f":{params}" if params else "")


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


@click.command(epilog="""
\b
Examples:
  vecdex collections
  vecdex collections --json
""")
@json_option
@click.pass_context
def collections(ctx, as_json):
    """List the collections in the store."""
    with open_store(ctx) as vx:
        for info in vx.collections():
            n_docs, n_chunks = vx.store.counts(info.id)
            row = {"collection": info.name, "documents": n_docs, "chunks": n_chunks,
                   "model": info.embedder.get("model"), "embedder": info.embedder.get("kind"),
                   "dimension": info.embedder.get("dimension"), "index": info.index_spec.get("type")}
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                click.echo(f"{info.name}\t{n_docs:,} documents\t{row['embedder']} {row['model']} "
                           f"({row['dimension']}d)\t{row['index']}")


@click.command(epilog="""
\b
Example:
  vecdex get notes/today.md --json
""")
@click.argument("doc_id")
@collection_option
@json_option
@click.pass_context
def get(ctx, doc_id, collection, as_json):
    """Print a stored document (text and metadata)."""
    with open_store(ctx) as vx:
        doc = vx.collection(collection).get(doc_id)
    if doc is None:
        raise UserError(f"no document with id {doc_id!r} in collection {collection!r}")
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False))
    else:
        if doc["metadata"]:
            click.echo(json.dumps(doc["metadata"], ensure_ascii=False))
        click.echo(doc["text"])
