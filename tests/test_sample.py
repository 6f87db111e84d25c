"""The sample `make run` indexes: TICO-19 articles with their human English, chosen by the model installed."""

import json

from helpers import PROJECT_ROOT, cli_env, run_cli

from service import sample
from service.cli import build_parser
from service.commands import sample as sample_command
from service.ingest import IndexTarget
from service.provenance import provenance

CORPUS = PROJECT_ROOT / "service" / "modelstore" / "corpus"


def sample_records() -> list[tuple[int, dict]]:
    lines = sample.SAMPLE_FILE.read_text(encoding="utf-8").splitlines()
    return [(number, json.loads(line)) for number, line in enumerate(lines, 1) if line.strip()]


def tico19() -> dict[str, str]:
    """Each TICO-19 Arabic line → its human English line."""
    arabic = (CORPUS / "tico19.ar").read_text(encoding="utf-8").split("\n")
    english = (CORPUS / "tico19.en").read_text(encoding="utf-8").split("\n")
    return dict(zip(arabic, english, strict=True))


def test_the_arabic_sample_articles_carry_tico19_human_english_for_every_sentence():
    references = tico19()
    # sample-en is an English original, sample-ar an Arabic article written for the project, with no English
    arabic = [record for _, record in sample_records() if record["id"] not in ("sample-en", "sample-ar")]
    assert len(arabic) == 6
    for record in arabic:
        assert sample.has_human_english(record), record["id"]
        assert record["title_en"] == references[record["title"]]
        pairs = record["sentences"]
        assert all(pair["target"] == references[pair["source"]] for pair in pairs), record["id"]
        # the pairs cover the whole body, in order: nothing of the article is left without its English
        paragraphs = record["body"].split("\n")
        assert " ".join(pair["source"] for pair in pairs) == " ".join(paragraphs), record["id"]


def test_with_the_demo_model_the_sample_keeps_its_human_english():
    chosen = sample.plan(sample_records(), demo=True)
    assert [record["id"] for _, record in chosen.pretranslated] == [f"sample-{n}" for n in range(1, 7)]
    # English: kept as it is; Arabic without English: through the demo model, its English noise, found by meaning
    assert [record["id"] for _, record in chosen.to_translate] == ["sample-en", "sample-ar"]


def test_with_a_real_model_the_model_translates_the_sample_from_the_arabic_alone():
    records = sample_records()
    chosen = sample.plan(records, demo=False)
    assert chosen.pretranslated == []
    assert [line for line, _ in chosen.to_translate] == [line for line, _ in records]  # line numbers kept
    for _, record in chosen.to_translate:
        assert "title_en" not in record and "sentences" not in record
        assert record["body"] and record["source"]


def test_make_run_indexes_the_sample_through_the_sample_command():
    recipe = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8").split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "-m service sample examples/articles.jsonl" in recipe
    assert "-m service ingest" not in recipe  # the plain ingest would translate the sample with the demo model
    args = build_parser().parse_args(["sample"])
    assert args.handler is sample_command.run and args.file == str(sample.SAMPLE_FILE)


class RealModel:
    """The session's generated model, presented as a real one (not demo) under its own id."""

    model_id = "opus-mt-ar-en@test-real-int8"
    demo = False

    def __init__(self, translator):
        self._translator = translator

    def __getattr__(self, name):
        return getattr(self._translator, name)


def stored_provenance(client, alias) -> dict[str, dict]:
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, body={"query": {"match_all": {}}, "size": 50})["hits"]["hits"]
    return {hit["_id"]: provenance(hit["_source"]) for hit in hits}


def test_load_indexes_human_english_with_the_demo_model_and_translates_with_a_real_one(client, alias, translator):
    assert translator.demo  # the session's generated model stands for the demo model
    chosen, report = sample.load(sample_records(), IndexTarget(client, alias), translator)
    assert report.to_dict() == {"indexed": 8, "unchanged": 0, "rejected": 0}
    kinds = stored_provenance(client, alias)
    assert {doc_id: kind["kind"] for doc_id, kind in kinds.items()} == {
        **{f"sample-{n}": "human" for n in range(1, 7)},
        "sample-en": "original",
        "sample-ar": "demo",
    }
    stored = client.get(index=alias, id="sample-5")["_source"]
    assert stored["title_en"].startswith("By yesterday, the World Health Organization reported")
    assert "over 244 thousand coronavirus cases were recorded" in stored["body_en"]
    assert "sample: 6 with their human English" in sample.describe(chosen, report, translator.model_id)

    real = RealModel(translator)
    chosen, report = sample.load(sample_records(), IndexTarget(client, alias), real)
    # the human English is gone from the records, so the sample indexed with it is translated again, and so is
    # sample-ar's demo noise; sample-en is an unchanged English original, kept as stored
    assert report.to_dict() == {"indexed": 7, "unchanged": 1, "rejected": 0}
    kinds = stored_provenance(client, alias)
    assert kinds["sample-5"] == {"kind": "machine", "model": real.model_id}
    assert kinds["sample-ar"] == {"kind": "machine", "model": real.model_id}
    assert kinds["sample-en"]["kind"] == "original"


def test_the_sample_command_make_run_calls_keeps_the_human_english_with_the_demo_model(
    search_settings, client, alias, tiny_model_dir, tmp_path
):
    done = run_cli(
        "sample",
        "examples/articles.jsonl",
        env=cli_env(search_settings, alias, tiny_model_dir, tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert b"sample: 6 with their human English (pre-translated) and 2 through generated-tiny@" in done.stderr
    kinds = stored_provenance(client, alias)
    assert kinds["sample-1"]["kind"] == "human" and kinds["sample-en"]["kind"] == "original"
