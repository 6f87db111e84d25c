"""Where an article's English comes from, derived from its stored fields (pure): one label per hit and article.

- original: an English article, kept as it is (not translated);
- demo: the generated demo model's noise;
- human: a pre-translated record (ingest --pretranslated) that names no model;
- machine: our model, or the model a pre-translated record names; `model` holds its id.
"""

from __future__ import annotations

PRETRANSLATED_MODEL = "pretranslated"  # the model recorded for pre-translated records that name none
KINDS = ("machine", "human", "demo", "original")
ALIGNMENT_ABSENT = {  # why a sentence pair has no word alignment, by provenance
    "human": "pre-translated",
    "original": "original English",
    "demo": "not recorded",
    "machine": "not recorded",  # MT_ALIGNMENTS was off, the record named its own model, or indexed before alignments
}


def provenance(document: dict) -> dict:
    """{"kind", "model"} for a stored article (or a search hit's source fields)."""
    model = document.get("model")
    if not document.get("translated", model is not None):
        return {"kind": "original", "model": None}
    if document.get("demo"):
        return {"kind": "demo", "model": model}
    if model in (None, PRETRANSLATED_MODEL):
        return {"kind": "human", "model": None}
    return {"kind": "machine", "model": model}
