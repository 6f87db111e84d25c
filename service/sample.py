"""The sample articles `make run` indexes, so a newcomer's first search shows real bilingual results.

examples/articles.jsonl holds Arabic articles built from the TICO-19 test set (CC0, see
service/modelstore/corpus/README.md) together with TICO-19's own human English: `title_en` and `sentences`
[{source, target}], one pair per TICO-19 line. Which English the index gets depends on the model installed:

- the demo model (random weights): the human English, ingested as pre-translated, so each article's
  provenance is `human` and nothing shown at first is noise. Records without human English (an English
  article, or an Arabic one without pairs) still go through the model: English is kept as it is, Arabic
  would be the demo model's noise, labelled `demo`.
- a real model: every article is translated by it; the human English is left out of the record, so an index
  that holds the human English from an earlier run sees a changed record and translates it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from service.config import PROJECT_ROOT
from service.ingest import IndexTarget, IngestReport, human_or_machine, ingest_stream

SAMPLE_FILE = PROJECT_ROOT / "examples" / "articles.jsonl"
HUMAN_FIELDS = ("title_en", "sentences")  # what the pre-translated path reads; the model writes its own


@dataclass(frozen=True)
class SamplePlan:
    """The sample's (line, record) pairs split by how they go in."""

    pretranslated: list[tuple[int, object]]  # ingested with their human English
    to_translate: list[tuple[int, object]]  # ingested through the model


def has_human_english(record: object) -> bool:
    """True when the record carries its own sentence pairs (the pre-translated path can take it)."""
    return isinstance(record, dict) and isinstance(record.get("sentences"), list) and bool(record["sentences"])


def without_human_english(record: object) -> object:
    """The record as the model should see it: the source text and metadata, none of the human English."""
    if not isinstance(record, dict):
        return record  # a line that did not parse goes on as it is, to be reported with its number
    return {key: value for key, value in record.items() if key not in HUMAN_FIELDS}


def plan(records: Iterable[tuple[int, object]], demo: bool) -> SamplePlan:
    """Human English while only the demo model is there (its translations are noise), else the model's."""
    pretranslated, to_translate = [], []
    for line, record in records:
        if demo and has_human_english(record):
            pretranslated.append((line, record))
        else:
            to_translate.append((line, without_human_english(record)))
    return SamplePlan(pretranslated, to_translate)


def load(
    records: Iterable[tuple[int, object]], target: IndexTarget, translator, on_reject=lambda reject: None
) -> tuple[SamplePlan, IngestReport]:
    """Index the sample the way plan() chooses for this translator, in one pass through the write path."""
    chosen = plan(records, translator.demo)
    both = sorted(chosen.pretranslated + chosen.to_translate, key=lambda pair: pair[0])
    translate = human_or_machine(translator, has_human_english)  # plan() stripped it where the model translates
    return chosen, ingest_stream(both, target, translate, on_reject)


def describe(chosen: SamplePlan, report: IngestReport, model_id: str) -> str:
    """One line for the terminal: where the English of the sample comes from."""
    parts = []
    if chosen.pretranslated:
        parts.append(f"{len(chosen.pretranslated)} with their human English (pre-translated)")
    if chosen.to_translate:
        parts.append(f"{len(chosen.to_translate)} through {model_id}")
    summary = report.to_dict()
    return (
        f"sample: {' and '.join(parts) or 'nothing'}; indexed {summary['indexed']}, "
        f"unchanged {summary['unchanged']}, rejected {summary['rejected']}"
    )
