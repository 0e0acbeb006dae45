"""Pluggable prompt tokenizers.

- ``ByteTokenizer`` (default, offline, defined here): 4 specials, 256 byte tokens, one token per
  integer 0..255 with and without a leading space (each discretised state value and each advantage
  bin is a single token), and a fixed list of word pieces (template words, frequent task words).
- ``SentencePieceTokenizer``: a local SentencePiece model, e.g. PaliGemma's
  ``paligemma_tokenizer.model`` for real π0.5 checkpoints (needs ``pip install sentencepiece``).
- ``HFTokenizer``: a local Hugging Face ``tokenizers`` JSON file.

``load_tokenizer("byte" | path)`` picks one; third-party libraries are imported lazily.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Tokenizer(Protocol):
    """What the prompt builder needs from a tokenizer."""

    vocab_size: int
    pad_id: int
    bos_id: int

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        """Text → token ids (optionally prefixed with BOS)."""
        ...

    def decode(self, ids: list[int]) -> str:
        """Token ids → text (specials dropped)."""
        ...


# Whole-piece tokens: the fixed parts of the prompt templates and frequent manipulation words.
# fmt: off
WORD_PIECES: tuple[str, ...] = (
    "Task: ", ", State: ", ", Advantage: ", ";\nAction: ", "Task:", "State:", "Advantage:", "Action:", " the",
    " a", " and", " to", " of", " in", " into", " on", " onto", " from", " with", " it", " them", " pick",
    " place", " put", " up", " down", " grasp", " lift", " move", " push", " pull", " open", " close", " fold",
    " insert", " zip", " tuck", " sort", " stack", " left", " right", " top", " bottom", " front", " back",
    " side", " red", " blue", " green", " yellow", " white", " black", " brick", " bricks", " block", " box",
    " bin", " cup", " bag", " backpack", " flap", " flaps", " tab", " lid", " table", " conveyor", " belt",
    " object", " objects", " gripper", " arm", "pick", "place", "put", "open", "close", "sort", "fold",
)
# fmt: on
_PATTERN = re.compile("|".join(re.escape(p) for p in sorted(WORD_PIECES, key=len, reverse=True)) + r"| ?\d+")


class ByteTokenizer:
    """Deterministic offline tokenizer: bytes, whole numbers 0..255 and a fixed list of word pieces.

    Ids: 0 pad, 1 bos, 2 eos, 3 unk, 4..259 bytes, 260..515 ``"N"``, 516..771 ``" N"``,
    772.. ``WORD_PIECES``. Lossless: ``decode(encode(s)) == s``.
    """

    PAD, BOS, EOS, UNK = 0, 1, 2, 3
    _BYTES = 4
    _INT = _BYTES + 256
    _SPACE_INT = _INT + 256
    _WORDS = _SPACE_INT + 256

    def __init__(self) -> None:
        self.vocab_size = self._WORDS + len(WORD_PIECES)
        self.pad_id, self.bos_id, self.eos_id = self.PAD, self.BOS, self.EOS
        self._word_id = {w: self._WORDS + i for i, w in enumerate(WORD_PIECES)}

    def _bytes(self, text: str) -> list[int]:
        return [self._BYTES + b for b in text.encode("utf-8")]

    def _piece(self, piece: str) -> list[int]:
        if piece in self._word_id:
            return [self._word_id[piece]]
        digits = piece.lstrip(" ")
        if int(digits) <= 255 and str(int(digits)) == digits:
            return [(self._SPACE_INT if piece[0] == " " else self._INT) + int(digits)]
        return self._bytes(piece)

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        ids = [self.BOS] if add_bos else []
        pos = 0
        for m in _PATTERN.finditer(text):
            ids += self._bytes(text[pos : m.start()]) + self._piece(m.group())
            pos = m.end()
        return ids + self._bytes(text[pos:])

    def decode(self, ids: list[int]) -> str:
        out, buf = [], bytearray()
        for i in ids:
            if self._BYTES <= i < self._INT:
                buf.append(i - self._BYTES)
                continue
            out.append(buf.decode("utf-8", errors="replace"))
            buf = bytearray()
            if self._INT <= i < self._SPACE_INT:
                out.append(str(i - self._INT))
            elif self._SPACE_INT <= i < self._WORDS:
                out.append(f" {i - self._SPACE_INT}")
            elif self._WORDS <= i < self.vocab_size:
                out.append(WORD_PIECES[i - self._WORDS])
        out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)


class SentencePieceTokenizer:
    """A local SentencePiece model (``pip install sentencepiece``); nothing is downloaded."""

    def __init__(self, path: str | Path) -> None:
        try:
            import sentencepiece  # noqa: PLC0415
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SentencePiece tokenizers need the 'sentencepiece' package: pip install sentencepiece"
            ) from e
        self.path = Path(path)
        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(self.path))
        self.vocab_size = int(self._sp.get_piece_size())
        self.pad_id = max(int(self._sp.pad_id()), 0)
        self.bos_id = int(self._sp.bos_id())

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        return list(self._sp.encode(text, add_bos=add_bos))

    def decode(self, ids: list[int]) -> str:
        return self._sp.decode([int(i) for i in ids])


class HFTokenizer:
    """A local Hugging Face ``tokenizers`` JSON file; BOS is ``<bos>`` (or ``<s>``) if present."""

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer as _Tok  # noqa: PLC0415

        self.path = Path(path)
        self._tok = _Tok.from_file(str(self.path))
        self.vocab_size = int(self._tok.get_vocab_size())
        pad = self._tok.token_to_id("<pad>")
        bos = self._tok.token_to_id("<bos>")
        bos = self._tok.token_to_id("<s>") if bos is None else bos
        self.pad_id = 0 if pad is None else int(pad)
        self.bos_id = -1 if bos is None else int(bos)

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        ids = list(self._tok.encode(text, add_special_tokens=False).ids)
        if add_bos:
            if self.bos_id < 0:
                raise ValueError(f"tokenizer {self.path} has no <bos> token but add_bos=True")
            ids = [self.bos_id] + ids
        return ids

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode([int(i) for i in ids])


def load_tokenizer(spec: str | Path) -> Tokenizer:
    """``"byte"`` → ByteTokenizer; a ``.model`` file → SentencePiece; a ``.json`` file → HF tokenizers;
    a directory → its ``tokenizer.model`` or ``tokenizer.json``."""
    if str(spec) == "byte":
        return ByteTokenizer()
    path = Path(spec).expanduser()
    if path.is_dir():
        for name in ("tokenizer.model", "paligemma_tokenizer.model", "tokenizer.json"):
            if (path / name).is_file():
                return load_tokenizer(path / name)
        raise FileNotFoundError(f"no tokenizer.model / tokenizer.json in directory {path}")
    if not path.is_file():
        raise FileNotFoundError(
            f"tokenizer {str(spec)!r} is neither 'byte' nor an existing file "
            "(expected a SentencePiece .model or a tokenizers .json)"
        )
    if path.suffix == ".json":
        return HFTokenizer(path)
    return SentencePieceTokenizer(path)
