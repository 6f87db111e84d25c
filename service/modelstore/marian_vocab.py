"""Marian's YAML vocabulary files (`"piece": id` per line), written so CTranslate2's reader parses them."""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ("</s>", "<unk>")


def _quote(token: str) -> str:
    return '"' + token.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_vocab(tokens: list[str], path: Path) -> None:
    """Write tokens in id order; Marian puts `</s>` at 0 and `<unk>` at 1."""
    with open(path, "w", encoding="utf-8") as out:
        for index, token in enumerate(tokens):
            out.write(f"{_quote(token)}: {index}\n")


def shared_vocab(source_pieces: list[str], target_pieces: list[str], size: int) -> list[str]:
    """One vocabulary for both sides, as OPUS-MT ships: specials, source, new target pieces, filler."""
    tokens = list(SPECIAL_TOKENS)
    seen = set(tokens)
    for piece in [*source_pieces, *target_pieces]:
        if piece not in seen:
            seen.add(piece)
            tokens.append(piece)
    if len(tokens) > size:
        raise ValueError(f"{len(tokens)} SentencePiece pieces do not fit a vocabulary of {size}")
    # Filler entries keep the output layer at the real model's width, so speed figures hold.
    tokens.extend(f"<filler{i}>" for i in range(size - len(tokens)))
    return tokens
