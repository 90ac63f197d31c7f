"""The embedding workbench: train, words, analogy, eval-model, map.

References are independent of our code: gensim's own KeyedVectors (most_similar,
evaluate_word_pairs, evaluate_word_analogies, fastText get_vector) on the same
vectors and the same files, and PNG/HTML files checked by their bytes.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO, TESTS, run_vecdex
from vecdex.cli import main
from vecdex.indexer.embedders.wordvectors import load_word_vectors
from vecdex.indexer.readers import ReadOptions
from vecdex.indexer.training import TrainingError, TrainOptions, train
from vecdex.search.workbench.model_eval import (
    EvaluationError,
    analogy_sample,
    evaluate_analogies,
    evaluate_word_pairs,
    gensim_test_file,
)
from vecdex.search.workbench.words import UnknownWordError, WordSpace, WordSpaceError

WORKBENCH_COMMANDS = ["train", "words", "analogy", "map", "eval-model"]


@pytest.fixture
def runner():
    return CliRunner()  # click >= 8.2: .output has stdout and stderr, .stdout / .stderr each one


def invoke(runner, *args, db=None):
    prefix = ["--db", str(db)] if db else []
    return runner.invoke(main, [*prefix, *map(str, args)])


@pytest.fixture(scope="module")
def glove() -> WordSpace:
    return WordSpace.load(None)


@pytest.fixture(scope="module")
def glove_gensim(glove):
    """The bundled GloVe as a gensim KeyedVectors: the reference implementation."""
    from gensim.models import KeyedVectors

    keys = list(glove.keys)
    assert None not in keys  # every row has its word, so gensim sees exactly our rows
    kv = KeyedVectors(glove.model.dimension)
    kv.add_vectors(keys, np.asarray(glove.model.vectors))
    return kv


@pytest.fixture(scope="module")
def lee_sg_model(tmp_path_factory, lee_background) -> tuple[Path, object]:
    """Skip-gram word2vec trained on the Lee background corpus (300 news articles)."""
    out = tmp_path_factory.mktemp("models") / "lee.kv"
    report = train([str(lee_background)], out, TrainOptions(sg=True, epochs=10, workers=2),
                   ReadOptions(format="lines"))
    return out, report


# -- train --------------------------------------------------------------------------------------


def test_training_on_lee_gives_a_model_that_index_accepts_and_a_collection_that_answers(lee_sg_model, lee_lines,
                                                                                         tmp_path):
    out, report = lee_sg_model
    assert (report.documents, report.sentences, report.failed) == (300, 300, 0)
    assert report.tokens > 50_000 and report.seconds_training > 0
    model = load_word_vectors(str(out))
    assert model.format == "kv" and len(model) == report.vocabulary and model.dimension == 100
    assert 1000 < report.vocabulary < report.distinct_words  # --min-count 5 dropped the rare words
    # The corpus's topics show in the geometry.
    space = WordSpace(model)
    assert space.similarity("israeli", "palestinian") > space.similarity("israeli", "wickets") + 0.3
    assert space.similarity("cricket", "wickets") > space.similarity("cricket", "firefighters")

    from vecdex.search import Vecdex

    with Vecdex(tmp_path / "lee.db") as vx:
        coll = vx.collection("custom", create=True, model=str(out))
        coll.add([{"id": str(i + 1), "text": t} for i, t in enumerate(lee_lines)])
        assert coll.stats()["model"] == str(out) and coll.stats()["dimension"] == 100
        for query, stems in [("Israeli troops and Palestinian militants clash in the West Bank", ("israel", "palestin")),
                             ("cricket test match wickets and runs", ("cricket", "wicket")),
                             ("bushfires burn homes as firefighters battle the blaze", ("fire",))]:
            hits = coll.search(query, k=5)
            on_topic = sum(any(s in h.snippet.lower() for s in stems) for h in hits)
            assert on_topic >= 4, (query, [h.snippet[:80] for h in hits])


@pytest.mark.parametrize("name, fmt", [("ft.bin", "fasttext"), ("ft.kv", "kv")])
def test_fasttext_training_keeps_subwords_for_unknown_words(tmp_path, lee_background, name, fmt):
    out = tmp_path / name
    report = train([str(lee_background)], out, TrainOptions(algorithm="fasttext", dimension=50, sg=True, min_count=3,
                                                            epochs=5, workers=2), ReadOptions(format="lines"))
    assert report.format == fmt
    model = load_word_vectors(str(out))
    assert model.oov_vector is not None and len(model) == report.vocabulary
    space = WordSpace(model)
    assert not space.knows("firefighter")  # only "firefighters" occurs often enough
    nearest = [n.word for n in space.nearest("firefighter", 3)]
    assert "firefighters" in nearest


def test_train_output_format_follows_the_extension(tmp_path, lee_background):
    text = tmp_path / "lee.vec"
    calls = []
    report = train([str(lee_background)], text, TrainOptions(dimension=20, epochs=2, workers=1),
                   ReadOptions(format="lines"), progress=lambda *call: calls.append(call))
    assert ("read", 300, None) in calls  # the progress bar sees every document, then every sentence of each epoch
    assert calls[-1] == ("train", 2 * report.sentences, 2 * report.sentences)
    first = text.read_text("utf-8").split("\n", 1)[0].split()
    assert first[1] == "20" and int(first[0]) > 1000  # word2vec text header: rows, dimension
    binary = tmp_path / "lee.bin"
    train([str(lee_background)], binary, TrainOptions(dimension=20, epochs=1, workers=1), ReadOptions(format="lines"))
    assert load_word_vectors(str(binary)).format == "word2vec"
    assert oct(binary.stat().st_mode & 0o777) != "0o600"  # an ordinary file, not the temp file's mode


@pytest.mark.parametrize("out, options, message", [
    ("model.model", {}, "end --out with one of"),
    ("m.kv", {"min_count": 10_000}, "lower --min-count"),
    ("m.kv", {"algorithm": "glove"}, "unknown algorithm"),
    ("missing/m.kv", {}, "does not exist"),
])
def test_train_refuses_bad_requests_and_writes_nothing(tmp_path, lee_background, out, options, message):
    with pytest.raises(TrainingError, match=message):
        train([str(lee_background)], tmp_path / out, TrainOptions(epochs=1, **options), ReadOptions(format="lines"))
    assert not (tmp_path / out).exists()
    assert not list(tmp_path.glob(".m*"))  # no temp file left behind


def test_train_cli_reports_vocabulary_and_time_then_the_model_works_everywhere(runner, tmp_path, lee_background):
    out = tmp_path / "cli.kv"
    result = invoke(runner, "train", lee_background, "--format", "lines", "--out", out, "--dim", 30, "--epochs", 2,
                    "--workers", 1)
    assert result.exit_code == 0, result.output
    assert re.search(r"vocabulary [\d,]+ words", result.output) and "epochs in" in result.output
    result = invoke(runner, "train", lee_background, "--format", "lines", "--out", tmp_path / "j.kv", "--dim", 30,
                    "--epochs", 1, "--json")
    summary = json.loads(result.stdout)
    assert summary["vocabulary"] == len(load_word_vectors(str(tmp_path / "j.kv")))
    words = invoke(runner, "words", "fire", "--model", out, "-k", 3, "--json")
    assert words.exit_code == 0 and len(words.stdout.splitlines()) == 3
    db = tmp_path / "t.db"
    assert invoke(runner, "index", lee_background, "--format", "lines", "--model", out, "-c", "mine", db=db).exit_code == 0
    assert invoke(runner, "query", "cricket", "-c", "mine", db=db).exit_code == 0
    bad = invoke(runner, "train", lee_background, "--out", tmp_path / "x.txtx")
    assert bad.exit_code == 1 and "end --out with one of" in bad.output


# -- words / analogy ----------------------------------------------------------------------------


def test_king_minus_man_plus_woman_is_queen(runner, glove):
    assert glove.analogy("king", "man", "woman", 1)[0].word == "queen"
    result = invoke(runner, "analogy", "king", "man", "woman", "-k", 5, "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["word"] == "queen" and set(rows[0]) == {"word", "score"}
    assert not {"king", "man", "woman"} & {r["word"] for r in rows}
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


def test_nearest_words_and_analogies_match_gensim(glove, glove_gensim):
    for word in ("frog", "bank", "computer"):
        ours = [(n.word, n.score) for n in glove.nearest(word, 10)]
        ref = glove_gensim.most_similar(word, topn=10)
        assert [w for w, _ in ours] == [w for w, _ in ref]
        assert np.allclose([s for _, s in ours], [s for _, s in ref], atol=1e-5)
    ours = glove.analogy("paris", "france", "germany", 5)
    ref = glove_gensim.most_similar(positive=["paris", "germany"], negative=["france"], topn=5)
    assert [n.word for n in ours] == [w for w, _ in ref]
    assert np.allclose([n.score for n in ours], [s for _, s in ref], atol=1e-5)
    mul = glove.analogy("king", "man", "woman", 3, method="mul")
    ref_mul = glove_gensim.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=3)
    assert [n.word for n in mul] == [w for w, _ in ref_mul]


def test_restrict_limits_answers_to_frequent_words(glove):
    for n in glove.nearest("frog", 10, restrict=20_000):
        assert glove.model.key_to_index[n.word] < 20_000


def test_unknown_words_fail_with_one_line(runner, glove):
    with pytest.raises(UnknownWordError, match="not in the vocabulary of glove-6b-50d"):
        glove.nearest("qwzxqqv")
    for args in (["words", "qwzxqqv"], ["analogy", "king", "qwzxqqv", "woman"]):
        result = run_vecdex(*args)
        assert result.returncode == 1
        err = result.stderr.decode()
        assert err.count("\n") == 1 and "'qwzxqqv' is not in the vocabulary" in err and "Traceback" not in err


def test_fasttext_vectors_for_unknown_words_are_gensims_subword_vectors(runner):
    from gensim.models.fasttext import load_facebook_vectors

    path = gensim_test_file("lee_fasttext.bin")
    space = WordSpace.load(f"fasttext:{path}")
    reference = load_facebook_vectors(str(path))
    word = "bushfirez"
    assert not space.knows(word) and word not in reference.key_to_index
    expected = reference.get_vector(word)
    assert np.allclose(space.vector(word), expected / np.linalg.norm(expected), atol=1e-6)
    ours = [(n.word, n.score) for n in space.nearest(word, 5)]
    ref = reference.most_similar(word, topn=5)
    assert [w for w, _ in ours] == [w for w, _ in ref]
    result = invoke(runner, "words", word, "--model", f"fasttext:{path}", "-k", 3, "--json")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 3
    assert "built from subwords" in result.stderr


def test_words_from_a_collections_model_and_refusal_without_word_vectors(runner, tmp_path, fake_collection):
    db = tmp_path / "w.db"
    corpus = tmp_path / "c.txt"
    corpus.write_text("cats purr\ndogs bark\n", "utf-8")
    assert invoke(runner, "index", corpus, "--format", "lines", db=db).exit_code == 0
    result = invoke(runner, "words", "cat", "--collection", "default", "-k", 3, "--json", db=db)
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 3
    with pytest.raises(WordSpaceError, match="has no word vectors"):
        from vecdex.search.workbench.words import word_space_for_collection

        word_space_for_collection(fake_collection)
    both = invoke(runner, "words", "cat", "--collection", "default", "--model", "glove-6b-50d", db=db)
    assert both.exit_code == 2 and "not both" in both.output


# -- eval-model ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["wordsim353.tsv", "simlex999.txt"])
def test_word_similarity_scores_equal_gensims(glove, glove_gensim, name):
    path = gensim_test_file(name)
    ours = evaluate_word_pairs(glove, path)
    pearson, spearman, oov_ratio = glove_gensim.evaluate_word_pairs(str(path))
    assert ours.spearman == pytest.approx(spearman[0], abs=1e-9)
    assert ours.pearson == pytest.approx(pearson[0], abs=1e-6)
    assert ours.oov_ratio == pytest.approx(oov_ratio)
    # The published ballpark for GloVe 6B 50d (e.g. WordSim-353 ~0.5, SimLex-999 ~0.26).
    assert (0.45 < ours.spearman < 0.60) if name.startswith("wordsim") else (0.20 < ours.spearman < 0.35)


@pytest.fixture(scope="module")
def analogy_subset(tmp_path_factory) -> Path:
    """Every 12th question of each section of questions-words.txt (gensim answers ~20k questions slowly)."""
    out = tmp_path_factory.mktemp("analogies") / "questions-subset.txt"
    out.write_text(analogy_sample(12), "utf-8")
    return out


def test_analogy_accuracy_equals_gensims(glove, glove_gensim, analogy_subset):
    restrict = 30_000
    ours = evaluate_analogies(glove, analogy_subset, restrict_vocab=restrict)
    score, sections = glove_gensim.evaluate_word_analogies(str(analogy_subset), restrict_vocab=restrict)
    total = sections[-1]
    assert total["section"] == "Total accuracy"
    assert ours.correct == len(total["correct"]) and ours.used == len(total["correct"]) + len(total["incorrect"])
    assert ours.accuracy == pytest.approx(score)
    for mine, theirs in zip(ours.sections, sections[:-1]):
        assert mine.section == theirs["section"]
        assert (mine.correct, mine.total) == (len(theirs["correct"]), len(theirs["correct"]) + len(theirs["incorrect"]))
    assert ours.oov > 0 and ours.questions == ours.used + ours.oov
    assert 0.3 < ours.accuracy < 0.7  # GloVe 50d solves roughly half (published: ~0.5 at this size)


def test_eval_model_cli(runner, tmp_path, analogy_subset):
    result = invoke(runner, "eval-model", "--no-analogies", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [p["dataset"] for p in report["word_pairs"]] == ["wordsim353", "simlex999"]
    assert report["analogies"] is None and report["vocabulary"] == 400_000
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# mine\ncat\tdog\t8\ncar\tbanana\t1\nking\tqueen\t9\nsun\tsnow\t2\nzzqxv\tdog\t5\n", "utf-8")
    result = invoke(runner, "eval-model", "--pairs", pairs, "--analogies", analogy_subset, "--restrict-vocab", 30000)
    assert result.exit_code == 0, result.output
    assert "pairs" in result.output and "4/5" in result.output and "analogies (questions-subset)" in result.output
    assert "semantic" in result.output and "capital-common-countries" in result.output
    empty = tmp_path / "unknown.tsv"
    empty.write_text("zzqxv\tqqzxv\t3\n", "utf-8")
    result = invoke(runner, "eval-model", "--pairs", empty, "--no-analogies")
    assert result.exit_code == 1 and "fewer than 3 rated pairs" in result.output


def test_analogy_file_without_sections_is_refused(glove, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("a b c d\n", "utf-8")
    with pytest.raises(EvaluationError, match="before the first"):
        evaluate_analogies(glove, path)


# -- map ----------------------------------------------------------------------------------------


def _needs_map_extra() -> None:
    """Map tests need the [map] extra (CI installs it); without it they are skipped, visibly."""
    pytest.importorskip("sklearn", reason="the [map] extra is not installed")
    pytest.importorskip("matplotlib", reason="the [map] extra is not installed")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    assert zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0]
    return width, height


def _png_hue_pixels(path: Path) -> tuple[int, int]:
    """How many pixels are clearly blue and clearly orange (points are drawn semi-transparent)."""
    from matplotlib.image import imread

    rgb = (imread(path)[..., :3] * 255).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    blue = int(((b - r > 60) & (b > 150)).sum())
    orange = int(((r - b > 100) & (r > 200) & (g > 100) & (g < 200)).sum())
    return blue, orange


@pytest.fixture(scope="module")
def polarity_db(tmp_path_factory) -> Path:
    """200 movie-review snippets labelled pos/neg (gensim test data) in a store."""
    folder = tmp_path_factory.mktemp("polarity")
    rows = []
    for i, line in enumerate(gensim_test_file("pang_lee_polarity.cor").read_text("cp1252").splitlines()):
        label, _, text = line.partition(" ")
        rows.append({"id": f"r{i}", "text": text, "sentiment": label.replace("__label__", ""), "chars": len(text)})
    corpus = folder / "reviews.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in rows), "utf-8")
    db = folder / "p.db"
    result = run_vecdex("index", str(corpus), "-c", "reviews", "-q", db=db)
    assert result.returncode == 0, result.stderr.decode()
    return db


def test_map_png_of_a_sampled_collection(runner, polarity_db, tmp_path):
    _needs_map_extra()
    out = tmp_path / "reviews.png"
    result = invoke(runner, "map", "-c", "reviews", "--color-by", "sentiment", "--sample", 60, "--method", "pca",
                    "--out", out, db=polarity_db)
    assert result.exit_code == 0, result.output
    assert "sampled 60 of 200 documents" in result.stderr
    assert "map of 60 documents (of 200)" in result.stdout
    assert _png_size(out.read_bytes()) == (1200, 900)
    # Both groups are drawn in their colours (tab10 blue and orange), not just an empty frame.
    blue, orange = _png_hue_pixels(out)
    assert blue > 200 and orange > 200, (blue, orange)


def test_map_html_is_self_contained_with_one_point_per_document(runner, polarity_db, tmp_path):
    _needs_map_extra()
    out = tmp_path / "reviews.html"
    result = invoke(runner, "map", "-c", "reviews", "--color-by", "sentiment", "--sample", 40, "--out", out, "--json",
                    db=polarity_db)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["points"], summary["total"], summary["sampled"], summary["method"]) == (40, 200, True, "tsne")
    page = out.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count('<circle class="pt"') == 40
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)  # nothing loaded from elsewhere
    payload = re.search(r'<script type="application/json" id="vecdex-map-data">(.*?)</script>', page, re.S).group(1)
    data = json.loads(payload)
    assert len(data["points"]) == 40 and {p["group"] for p in data["points"]} == {"pos", "neg"}
    assert sum(summary["groups"].values()) == 40
    assert all(p["text"] and p["label"].startswith("r") for p in data["points"])
    if shutil.which("node"):  # the page's script must at least parse
        script = re.findall(r"<script>(.*?)</script>", page, re.S)[0]
        (tmp_path / "page.js").write_text(script, "utf-8")
        check = subprocess.run(["node", "--check", str(tmp_path / "page.js")], capture_output=True)
        assert check.returncode == 0, check.stderr.decode()


def test_word_map_has_the_words_and_their_neighbours(runner, glove, tmp_path):
    _needs_map_extra()
    seeds = ["king", "paris", "frog"]
    expected = set(seeds)
    for word in seeds:
        expected |= {n.word for n in glove.nearest(word, 4)}
    out = tmp_path / "words.html"
    result = invoke(runner, "map", "--words", ",".join(seeds), "--neighbours", 4, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    page = out.read_text("utf-8")
    assert page.count('<circle class="pt"') == len(expected)
    labels = {p["label"] for p in json.loads(re.search(r'id="vecdex-map-data">(.*?)</script>', page, re.S).group(1))["points"]}
    assert labels == expected
    png = tmp_path / "words.png"
    assert invoke(runner, "map", "--words", "king,queen,man,woman", "--out", png, "--method", "pca").exit_code == 0
    assert _png_size(png.read_bytes()) == (1200, 900)


def test_map_numeric_field_uses_a_colour_scale(runner, polarity_db, tmp_path):
    _needs_map_extra()
    out = tmp_path / "chars.svg"
    result = invoke(runner, "map", "-c", "reviews", "--color-by", "chars", "--method", "pca", "--out", out, "--json",
                    db=polarity_db)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["groups"] == {}  # a scale, not 100+ legend entries
    assert out.read_text("utf-8").lstrip().startswith("<?xml")


@pytest.mark.parametrize("args, message", [
    (["--color-by", "genre"], "no document has a metadata field 'genre' (fields: chars, sentiment)"),
    (["--out", "map.jpg"], "end --out with"),
    (["-c", "nope"], "no collection named 'nope'"),
])
def test_map_errors_are_one_line(runner, polarity_db, tmp_path, args, message):
    _needs_map_extra()
    full = ["map", "-c", "reviews", "--out", tmp_path / "m.png", *args]
    result = invoke(runner, *full, db=polarity_db)
    assert result.exit_code == 1 and message in result.output, result.output
    assert not (tmp_path / "m.png").exists()


def test_map_without_the_extra_says_what_to_install(monkeypatch, tmp_path):
    from vecdex.search.workbench import mapping

    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    with pytest.raises(mapping.MapError, match=r"pip install 'vecdex\[map\]'"):
        mapping.require_extras()


# -- the CLI stays light --------------------------------------------------------------------------


def test_workbench_commands_have_help_and_help_imports_nothing_heavy(runner):
    for command in WORKBENCH_COMMANDS:
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output, command
    probe = ("import sys\nfrom vecdex import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('gensim', 'sklearn', 'matplotlib', 'scipy', 'numpy') if m in sys.modules]\n"
             "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, cwd=REPO, env={"PYTHONPATH": str(TESTS)})
    assert b"HEAVY []" in out.stdout, out.stderr.decode()[-400:]


def test_colouring_keeps_the_ten_most_common_values_and_stable_colours():
    from vecdex.search.workbench.mapping import NONE_GROUP, OTHER_GROUP, colouring

    values = [f"v{i:02d}" for i in range(12) for _ in range(12 - i)] + [None, None]
    colours = colouring(values, "field")
    assert colours.mode == "category"
    assert colours.order == sorted(f"v{i:02d}" for i in range(10)) + [OTHER_GROUP, NONE_GROUP]
    assert colours.groups.count(OTHER_GROUP) == 2 + 1  # v10 (2 points) and v11 (1 point)
    assert colours.groups.count(NONE_GROUP) == 2
    # the same values in another order (another sample) keep their legend order, hence their colours
    assert colouring(list(reversed(values)), "field").order == colours.order
    numbers = colouring([float(i) for i in range(30)] + [None], "n")
    assert numbers.mode == "numeric" and np.isnan(numbers.numbers[-1])
    assert colouring([1, 2, 2, 1], "n").mode == "category"  # few distinct numbers read better as groups


def test_eval_model_compares_several_models_on_the_same_files(runner, lee_sg_model):
    out, _ = lee_sg_model
    result = invoke(runner, "eval-model", "--model", "glove-6b-50d", "--model", out, "--no-analogies", "--json")
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["model"], second["model"]) == ("glove-6b-50d", str(out))
    # A 1,800-word news model knows far fewer of the rated pairs: coverage is part of the comparison.
    assert second["word_pairs"][0]["used"] < first["word_pairs"][0]["used"]
    table = invoke(runner, "eval-model", "--model", "glove-6b-50d", "--model", out, "--no-analogies")
    assert table.exit_code == 0 and table.stdout.count("lee.kv") >= 2  # its own block and its table row


def test_keep_case_training_keeps_capitalised_words(tmp_path, lee_background):
    lower = train([str(lee_background)], tmp_path / "lower.kv", TrainOptions(dimension=10, epochs=1, workers=1),
                  ReadOptions(format="lines"))
    cased = train([str(lee_background)], tmp_path / "cased.kv",
                  TrainOptions(dimension=10, epochs=1, workers=1, lowercase=False), ReadOptions(format="lines"))
    lower_model, cased_model = load_word_vectors(str(tmp_path / "lower.kv")), load_word_vectors(str(tmp_path / "cased.kv"))
    assert lower_model.lowercase and "australia" in lower_model.key_to_index
    assert not cased_model.lowercase and "Australia" in cased_model.key_to_index
    assert cased.distinct_words > lower.distinct_words
