"""The ``vecdex`` command line: a thin skin over :mod:`search` (the Python API).

Commands parse options, call the library and print. Heavy modules (numpy,
SQLAlchemy, FAISS, models) are imported inside commands so ``vecdex --help``
stays instant. User errors become one line on stderr and exit code 1.
"""

from __future__ import annotations

import json
import sys

import click

from .errors import VecdexError
from .search.commands.check import check
from .search.commands.copy import copy_command
from .search.commands.evaluation import eval_command, eval_model
from .search.commands.inspect import collections, get, info
from .search.commands.shared import (
    INDEX_SPEC_HELP,
    UserError,
    VecdexGroup,
    collection_option,
    embedder_extras,
    embedder_options,
    input_options,
    json_option,
    k_option,
    knob_options,
    open_store,
    pooling_options,
    ranking_from,
    ranking_options,
    where_option,
)
from .search.commands.server import serve, token
from .search.commands.workbench import analogy, compare, map_command, train, words

EXAMPLES = """
\b
Examples:
  vecdex index notes/                        # every .txt/.md file, id = relative path
  vecdex index articles.jsonl --id-field url --text-field body
  vecdex index corpus.txt --format lines     # one document per line, id = line number
  vecdex query "flooding after heavy rain" -k 5
  vecdex query "election results" --where year>=2020 --where lang=en --json
  vecdex similar notes/today.md
  vecdex query "XJ-9000 launch" --mode lexical # exact words (BM25) instead of meaning
  vecdex eval --queries q.tsv --qrels qrels.txt # MRR@10, nDCG@10, recall@k of a collection
  vecdex info
"""




@click.group(cls=VecdexGroup, epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="VECDEX_DB", default="vecdex.db", show_default=True, metavar="PATH|URL",
              help="The store: a SQLite file, or postgresql+psycopg://user@host/dbname; also $VECDEX_DB.")
@click.version_option(package_name="vecdex", message="vecdex %(version)s")
@click.pass_context
def main(ctx: click.Context, db: str) -> None:
    """vecdex: index your documents and search them by meaning.

    Documents are split into sentence chunks, embedded with word vectors
    (GloVe 6B 50d built in, or your word2vec/GloVe/fastText/gensim model) or
    contextual ELMo vectors (--embedder elmo, with vecdex[elmo]), and stored in
    one SQLite file; FAISS index files beside it make queries fast.
    """
    ctx.obj = {"db": db}


def run() -> None:
    """The ``vecdex`` console script (and ``python -m vecdex``): the command line
    plus the process-level interrupt handling of :mod:`vecdex.search.commands.interrupts`."""
    from .search.commands.interrupts import install

    install()
    main(prog_name="vecdex")


# -- index --------------------------------------------------------------------------------


@main.command(epilog="""
\b
Examples:
  vecdex index docs/                                 # .txt/.md/.rst files, recursively
  vecdex index data.jsonl --id-field id --text-field body
  vecdex index data.csv --text-field abstract       # other columns become metadata
  vecdex index corpus.txt --format lines             # one document per line
  cat notes.txt | vecdex index - --format lines
  vecdex index docs/ --model word2vec:GoogleNews.bin --collection news300
  vecdex index docs/ --embedder elmo --collection ctx        # contextual ELMo (TF Hub google/elmo/3)
  vecdex index docs/ --pooling mean --collection plain       # plain averaging instead of SIF
  vecdex index docs/ --fit background.txt                    # common component of your own corpus
  vecdex index shards/ --ray                                 # chunk + embed on a Ray cluster (vecdex[ray])
""")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@collection_option
@embedder_options
@input_options
@click.option("--chunk-tokens", type=click.IntRange(min=8), default=None,
              help="Token budget per chunk for a new collection [default: 128 words; transformer: the "
                   "model's window in its word pieces, 254 for all-MiniLM-L6-v2].")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: all cores].")
@click.option("--index", "index_spec", default=None, metavar="SPEC", help=INDEX_SPEC_HELP + " New collections only.")
@click.option("--strict", is_flag=True, help="Stop at the first bad record (exit 1); its batch is not written.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="auto", default=None, metavar="[ADDRESS]",
              help="Chunk and embed on a Ray cluster (vecdex[ray]): ADDRESS, or auto/none for ray.init()'s "
                   "choice (a configured cluster, else a local one). --workers: actors.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
@pooling_options
@json_option
@click.pass_context
def index(ctx, paths, collection, model, embedder, layer, pooling, fmt, id_field, text_field, encoding, chunk_tokens,
          workers, index_spec, strict, ray_address, quiet, sif_a, word_freq, components, fit, as_json):
    """Add or update documents from files, folders, JSONL, CSV, lines or stdin (-).

    Documents are upserted by id: changed ones are re-embedded, unchanged ones
    skipped. Bad records are reported and skipped (or, with --strict, stop the run).
    """
    from .indexer.chunking import ChunkingSpec
    from .indexer.readers import ReadOptions, read_inputs

    options = ReadOptions(format=fmt, id_field=id_field, text_field=text_field, encoding=encoding, strict=strict)
    if ray_address is None:
        items = read_inputs(paths, options)  # checks every path before anything is opened
        first = next(items, None)
    else:
        from .indexer.readers import check_inputs

        check_inputs(list(paths), options)
    vx = open_store(ctx, create=True)
    with vx:
        existed = vx.store.get_collection(collection) is not None
        # ELMo reads one sentence at a time: its chunks stay sentences, --chunk-tokens only caps them.
        # A transformer's budget counts its own word pieces (its window is in those).
        unit = "sentence" if embedder == "elmo" else "budget"
        tokens = "model" if embedder == "transformer" else "words"
        chunking = ChunkingSpec(max_tokens=chunk_tokens, unit=unit, tokens=tokens) if chunk_tokens else None
        static = {"sif_a": sif_a, "word_freq": word_freq, "components": components, "fit": fit}
        coll = vx.collection(collection, create=True, embedder=embedder, model=model, chunking=chunking,
                             index=index_spec, **embedder_extras(embedder, layer, pooling, static))
        progress = _progress_bar(quiet)
        try:
            callbacks = {"progress": progress.update, "chunk_progress": progress.chunks_done} if progress is not None else {}
            if ray_address is None:
                report = coll.add(_chain(first, items), strict=strict, workers=workers, **callbacks)
            else:
                from .indexer.distributed import index_paths

                report = index_paths(coll, list(paths), options, address=ray_address, strict=strict, workers=workers,
                                     files_progress=progress.files_done if progress is not None else None, **callbacks)
        except VecdexError:
            if not existed:
                vx.drop_if_empty(coll.name)  # a failed run into a new collection leaves nothing behind
            raise
        finally:
            if progress is not None:
                progress.close()
        if not existed and report.added == 0:
            vx.drop_if_empty(coll.name)
        for ext, count in sorted(options.skipped_extensions.items()):
            kind = "without an extension" if ext == "(no extension)" else f"with extension {ext}"
            report.notes[f"{_plural(count, 'file')} {kind} not indexed (--format text indexes them)"] = 0
        _print_index_report(report, coll.name, quiet, as_json)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _chain(first, rest):
    if first is not None:
        yield first
    yield from rest


def _progress_bar(quiet: bool):
    """A documents bar that also shows chunks and chunks/s (what a slow model's speed is measured in)."""
    if quiet or not sys.stderr.isatty():
        return None
    import time

    from tqdm import tqdm

    class IndexingBar(tqdm):
        chunks = 0

        def files_done(self, done: int, total: int) -> None:
            self.set_description_str(f"indexing (files {done:,}/{total:,})", refresh=False)

        def chunks_done(self, n: int) -> None:
            self.chunks += n
            elapsed = time.monotonic() - self.started
            rate = self.chunks / elapsed if elapsed > 0 else 0.0
            self.set_postfix_str(f"{self.chunks:,} chunks, {rate:,.1f} chunks/s", refresh=False)

    bar = IndexingBar(unit=" docs", desc="indexing", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
    bar.started = time.monotonic()
    return bar


def _print_index_report(report, collection: str, quiet: bool, as_json: bool) -> None:
    shown = 0
    for problem in report.problems:
        if shown == 10:
            break
        click.echo(f"vecdex: skipped {problem.source}: {problem.message}", err=True)
        shown += 1
    if report.failed > shown:
        click.echo(f"vecdex: ... and {report.failed - shown} more skipped records", err=True)
    for note, count in report.notes.items():
        click.echo(f"vecdex: note: {_plural(count, 'document') + ' ' if count else ''}{note}", err=True)
    if report.no_vectors:
        click.echo(f"vecdex: note: {report.no_vectors} documents have no word the model knows: stored, "
                   "but no vector (they cannot be found by meaning)", err=True)
    if as_json:
        click.echo(json.dumps({"collection": collection, **report.as_dict()}))
        return
    if quiet:
        return
    rate = report.documents / report.seconds if report.seconds > 0 else 0.0
    dup = f", {report.duplicates} duplicate ids (last kept)" if report.duplicates else ""
    click.echo(
        f"{collection}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.failed} failed{dup} — {report.chunks} chunks in {report.seconds:.1f}s ({rate:,.0f} docs/s)"
    )


# -- query / similar ----------------------------------------------------------------------------


def _print_hits(hits, query: str | None, as_json: bool) -> None:
    lines = _hit_lines(hits, query, as_json)
    if lines:
        click.echo("\n".join(lines))


def _hit_lines(hits, query: str | None, as_json: bool) -> list[str]:
    if as_json:
        return [json.dumps(hit.as_dict(query), ensure_ascii=False) for hit in hits]
    if not hits:
        return ["no matching documents"]
    lines = []
    for hit in hits:
        meta = f"  {json.dumps(hit.metadata, ensure_ascii=False)}" if hit.metadata else ""
        lines.append(f"{hit.rank:>3}. {hit.score:.3f}  {hit.id}{meta}")
        lines.append(f"     {hit.snippet}")
    return lines


@main.command(epilog="""
\b
Examples:
  vecdex query "bushfires near Sydney"
  vecdex query "interest rates" -k 3 --where year>=2000 --json
  vecdex query --queries questions.txt --json       # one query per line
  vecdex query "interest rates" --ef 256            # HNSW: better recall, slower
  vecdex query --vector "[0.12, -0.3, ...]" -c myvectors   # a collection of your own vectors
  vecdex query "XJ-9000" --mode lexical              # exact words (BM25)
  vecdex query "rate rise" --mode hybrid --fusion rrf --lexical-weight 2
""")
@click.argument("text", required=False)
@click.option("--queries", type=click.File("r", encoding="utf-8"), default=None, metavar="FILE",
              help="Run one query per line of FILE (- for stdin).")
@click.option("--vector", default=None, metavar="JSON",
              help="Search by a vector (JSON list or comma-separated numbers) instead of text.")
@k_option
@collection_option
@where_option
@knob_options
@ranking_options
@json_option
@click.pass_context
def query(ctx, text, queries, vector, k, collection, where, nprobe, ef, mode, fusion, dense_weight, lexical_weight,
          as_json):
    """Find the documents that best match TEXT: by meaning, by words, or both (default)."""
    from .search import QueryError

    if sum(x is not None for x in (text, queries, vector)) != 1:
        raise click.UsageError("give one of: a query TEXT, --queries FILE, --vector JSON")
    ranking = ranking_from(mode, fusion, dense_weight, lexical_weight)
    with open_store(ctx) as vx:
        coll = vx.collection(collection)
        ranking = coll.ranking(mode, fusion=fusion, dense_weight=dense_weight, lexical_weight=lexical_weight)
        if vector is not None:
            _print_hits(coll.search_vector(_parse_vector(vector), k, where, nprobe=nprobe, ef=ef), None, as_json)
            return
        if text is not None:
            _print_hits(coll.search(text, k, where, mode=ranking, nprobe=nprobe, ef=ef), text, as_json)
            return
        failed = 0
        # Queries are embedded in groups (a contextual model batches them) and
        # printed in file order as each group is done.
        size = 1 if queries.isatty() else QUERY_GROUP  # typed queries are answered one by one
        for group in _groups((line.strip() for line in queries if line.strip()), size):
            # One write per group, not two per hit: at ~0.5 ms a query, a flushed
            # echo per line cost as much as the search (bench/bench_ann_cli.py).
            out: list[str] = []
            for line, hits in zip(group, coll.search_many(group, k, where, mode=ranking, nprobe=nprobe, ef=ef)):
                if not as_json:
                    out.append(f"== {line}")
                if isinstance(hits, QueryError):
                    failed += 1
                    if out:
                        click.echo("\n".join(out))
                        out = []
                    click.echo(f"vecdex: error: {hits}", err=True)
                    continue
                out.extend(_hit_lines(hits, line, as_json))
            if out:
                click.echo("\n".join(out))
        if failed:
            sys.exit(1)


QUERY_GROUP = 64


def _groups(items, size: int):
    group: list[str] = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


@main.command(epilog="""
\b
Examples:
  vecdex similar 42
  vecdex similar notes/today.md -k 5 --json
""")
@click.argument("doc_id")
@k_option
@collection_option
@where_option
@knob_options
@ranking_options
@json_option
@click.pass_context
def similar(ctx, doc_id, k, collection, where, nprobe, ef, mode, fusion, dense_weight, lexical_weight, as_json):
    """Documents most like the stored document DOC_ID (itself excluded)."""
    ranking = ranking_from(mode, fusion, dense_weight, lexical_weight)
    with open_store(ctx) as vx:
        coll = vx.collection(collection)
        ranking = coll.ranking(mode, fusion=fusion, dense_weight=dense_weight, lexical_weight=lexical_weight)
        _print_hits(coll.similar(doc_id, k, where, mode=ranking, nprobe=nprobe, ef=ef), None, as_json)


def _parse_vector(text: str) -> list[float]:
    try:
        values = json.loads(text) if text.lstrip().startswith("[") else [float(x) for x in text.split(",")]
        return [float(x) for x in values]
    except (ValueError, TypeError):
        raise UserError("--vector must be a JSON list or comma-separated numbers, e.g. [0.1, -0.2, 0.3]") from None


# -- approximate indexes and your own vectors ---------------------------------------------------


@main.command(epilog="""
\b
Examples:
  vecdex reindex                                     # rebuild (auto chooses afresh)
  vecdex reindex --index hnsw:M=32,efSearch=128      # switch to HNSW with these settings
  vecdex reindex -c news --index ivf:nlist=2048,nprobe=32
  vecdex reindex --index flat                        # exact search
""")
@collection_option
@click.option("--index", "index_spec", default=None, metavar="SPEC", help=INDEX_SPEC_HELP)
@json_option
@click.pass_context
def reindex(ctx, collection, index_spec, as_json):
    """Rebuild a collection's vector index, with another SPEC if given."""
    from .storage.ann.spec import format_spec

    with open_store(ctx) as vx:
        result = vx.collection(collection).reindex(index_spec)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(f"{collection}: index {format_spec(result['index'])} built in {result['seconds']:.1f}s")


@main.command("add-vectors", epilog="""
\b
Each line of FILE is a JSON object: {"id": ..., "vector": [...], "text": ..., "metadata": {...}}
(text and metadata optional). The first vector sets the collection's dimension.
\b
Examples:
  vecdex add-vectors embeddings.jsonl -c myvectors
  vecdex query --vector "[0.1, 0.2, ...]" -c myvectors -k 5
""")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@collection_option
@click.option("--model", default=None, metavar="NAME", help="Name of the model that made the vectors (recorded).")
@click.option("--index", "index_spec", default=None, metavar="SPEC", help=INDEX_SPEC_HELP + " New collections only.")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
@json_option
@click.pass_context
def add_vectors(ctx, file, collection, model, index_spec, quiet, as_json):
    """Add or update documents with your own precomputed vectors (JSONL)."""
    ids, vectors, texts, metadata = [], [], [], []
    for number, line in enumerate(file, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            ids.append(str(record["id"]))
            vectors.append([float(x) for x in record["vector"]])
            texts.append(str(record.get("text") or ""))
            metadata.append(dict(record.get("metadata") or {}))
        except (ValueError, TypeError, KeyError) as exc:
            raise UserError(f"{file.name}:{number}: need a JSON object with id and vector ({exc})") from None
    if not ids:
        raise UserError(f"{file.name}: no vectors")
    with open_store(ctx, create=True) as vx:
        if vx.store.get_collection(collection) is None:
            coll = vx.collection(collection, create=True, embedder="precomputed", dimension=len(vectors[0]),
                                 model=model, index=index_spec)
        else:  # add_vectors checks the kind and the dimension
            coll = vx.collection(collection, index=index_spec)
        report = coll.add_vectors(ids, vectors, texts, metadata)
    if as_json:
        click.echo(json.dumps({"collection": collection, **report.as_dict()}, ensure_ascii=False))
    elif not quiet:
        click.echo(f"{collection}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged "
                   f"in {report.seconds:.1f}s")



# -- delete -------------------------------------------------------


@main.command(epilog="""
\b
Example:
  vecdex delete notes/old.md notes/draft.md
""")
@click.argument("doc_ids", nargs=-1, required=True, metavar="DOC_ID...")
@collection_option
@click.pass_context
def delete(ctx, doc_ids, collection):
    """Delete documents by id."""
    with open_store(ctx) as vx:
        missing = vx.collection(collection).delete(list(doc_ids))
    deleted = len(set(doc_ids)) - len(set(missing))
    if deleted:
        click.echo(f"{collection}: {deleted} deleted")
    if missing:
        raise UserError(f"not found in {collection!r}: {', '.join(missing[:10])}"
                                   + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))


@main.command(epilog="""
\b
Example:
  vecdex index docs/ --fit collection   # components fitted on the collection itself
  vecdex refit                          # refit now and re-embed every chunk (one transaction)
""")
@collection_option
@json_option
@click.pass_context
def refit(ctx, collection, as_json):
    """Refit a collection-fitted pooling state on its documents and re-embed them.

    Collections with --fit collection are refitted automatically whenever they
    have doubled in size; this forces it. Others have nothing to refit.
    """
    with open_store(ctx) as vx:
        result = vx.collection(collection).refit()
    if as_json:
        click.echo(json.dumps(result))
    elif result["refitted"]:
        click.echo(f"refitted {collection}: {result['chunks']} chunks re-embedded "
                   f"(components: {'yes' if result['components'] else 'not yet, too few chunks'}; "
                   f"corpus word frequencies: {'yes' if result['corpus_word_freq'] else 'no'})")
    else:
        click.echo(f"nothing to refit: {result['reason']}")


for command in (info, collections, get, compare, eval_command, train, words, analogy, map_command, eval_model,
                copy_command, check, serve, token):
    main.add_command(command)


if __name__ == "__main__":
    main()
