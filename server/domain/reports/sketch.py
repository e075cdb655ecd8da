"""Unique visitor sketches (docs/reports.md#unique-visitors): one per program, local day and
dimension value, merged across days for a range. Up to EXACT_LIMIT visitors a sketch keeps
their 64-bit digests (exact counts); beyond, HyperLogLog registers (about 1.6 % error)."""

from __future__ import annotations

import hashlib
import math
import re
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

PRECISION = 12
REGISTERS = 1 << PRECISION
EXACT_LIMIT = 256
# Up to this many set registers, index:rank pairs are shorter text than one char per register.
SPARSE_LIMIT = 512
_WORD = 64
_DENSE_BASE = 48  # a dense sketch stores chr(48 + rank) per register


def word_of(visitor_hash: str) -> int:
    """A visitor as a 64-bit digest (what a sketch keeps or folds into a register)."""
    return int.from_bytes(hashlib.sha256(visitor_hash.encode()).digest()[:8], "big")


def _register(word: int) -> tuple[int, int]:
    index = word >> (_WORD - PRECISION)
    rest = (word << PRECISION) & ((1 << _WORD) - 1)
    return index, (_WORD - PRECISION + 1 if rest == 0 else _WORD - rest.bit_length() + 1)


_TO_TEXT = bytes((b + _DENSE_BASE) % 256 for b in range(256))
_FROM_TEXT = bytes((b - _DENSE_BASE) % 256 for b in range(256))
_WEIGHTS = tuple(2.0**-rank for rank in range(_WORD + 1))
_RANKS = tuple(bytes([rank]) for rank in range(_WORD + 1))
# Registers as one integer, a byte each: ranks stay below 0x80, so a byte-wise max is a few
# whole-integer operations (the high bit of each byte keeps borrows inside their byte).
_HIGH = int.from_bytes(b"\x80" * REGISTERS, "little")
_FULL = (1 << (8 * REGISTERS)) - 1
_HEX_WORD = 16  # a digest as 16 hex digits


_LOW_BITS = (1 << (_WORD - PRECISION)) - 1
_SET_REGISTER = re.compile(rb"[^\x00]")


def _fold(registers: bytearray, words: Iterable[int]) -> None:
    """Add digests to registers: _register inlined, as unions fold thousands at a time."""
    for word in words:
        index, rank = word >> (_WORD - PRECISION), _WORD - PRECISION + 1
        rank -= (word & _LOW_BITS).bit_length()
        if rank > registers[index]:
            registers[index] = rank


def _max_bytes(a: int, b: int) -> int:
    """The byte-wise maximum of two register integers."""
    a_wins = ((((a | _HIGH) - b) & _HIGH) >> 7) * 0xFF
    return (a & a_wins) | (b & (_FULL ^ a_wins))


def _words(body: str) -> Iterable[int]:
    if (len(body) + 1) % (_HEX_WORD + 1) == 0 and body.count(",") == len(body) // (_HEX_WORD + 1):
        words = array("Q", bytes.fromhex(body.replace(",", "")))
        if sys.byteorder == "little":
            words.byteswap()
        return words
    return (int(w, 16) for w in body.split(",") if w)  # written before digests had 16 digits


@dataclass
class Sketch:
    """The visitors of a day and dimension value, or the union of several: their digests
    (`words`) while few, else one HyperLogLog rank per register (`registers`)."""

    words: set[int] | None = field(default_factory=set)
    registers: bytearray = field(default_factory=bytearray)

    def add(self, word: int) -> None:
        if self.words is not None:
            self.words.add(word)
            if len(self.words) > EXACT_LIMIT:
                self._to_registers()
            return
        index, rank = _register(word)
        if rank > self.registers[index]:
            self.registers[index] = rank

    def _to_registers(self) -> None:
        words, self.words = self.words or set(), None
        self.registers = bytearray(REGISTERS)
        _fold(self.registers, words)

    def merge(self, other: Sketch) -> None:
        """Fold another sketch in: the union of both days' visitors."""
        if other.words is not None:
            for word in other.words:
                self.add(word)
            return
        if self.words is not None:
            self._to_registers()
        merged = _max_bytes(
            int.from_bytes(self.registers, "little"), int.from_bytes(other.registers, "little")
        )
        self.registers = bytearray(merged.to_bytes(REGISTERS, "little"))

    def estimate(self) -> int:
        """How many distinct visitors: exact while the digests are kept, else HyperLogLog."""
        if self.words is not None:
            return len(self.words)
        empty, harmonic, seen = self.registers.count(_RANKS[0]), 0.0, 0
        for rank, needle in enumerate(_RANKS):  # a count per rank: C loops, not one per register
            found = self.registers.count(needle)
            harmonic += _WEIGHTS[rank] * found
            seen += found
            if seen == REGISTERS:
                break
        raw = 0.7213 / (1 + 1.079 / REGISTERS) * REGISTERS * REGISTERS / harmonic
        if raw <= 2.5 * REGISTERS and empty:
            return round(REGISTERS * math.log(REGISTERS / empty))
        return round(raw)

    def encode(self) -> str:
        """As text: `x:` the digests in hex, `s:` index:rank pairs, `d:` a char per register."""
        if self.words is not None:
            return "x:" + ",".join(f"{w:016x}" for w in sorted(self.words))
        if REGISTERS - self.registers.count(0) <= SPARSE_LIMIT:
            # Found by the regex engine: a Python loop over 4,096 registers per sketch was
            # most of a span's recompute.
            used = (m.start() for m in _SET_REGISTER.finditer(self.registers))
            return "s:" + ",".join(f"{i}:{self.registers[i]}" for i in used)
        return "d:" + bytes(self.registers).translate(_TO_TEXT).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Sketch:
        kind, body = text[:2], text[2:]
        if kind == "x:":
            return cls(words=set(_words(body)))
        if kind == "d:":
            return cls(words=None, registers=bytearray(body.encode("ascii").translate(_FROM_TEXT)))
        registers = bytearray(REGISTERS)
        for pair in body.split(","):
            if pair:
                index, rank = pair.split(":")
                registers[int(index)] = int(rank)
        return cls(words=None, registers=registers)


def union(texts: Iterable[str]) -> Sketch:
    """The union of encoded sketches (a range's days and spans), decoding each form the
    cheapest way: digests into one set, dense registers maxed as integers."""
    words: set[int] = set()
    dense: int | None = None
    sparse: list[str] = []
    for text in texts:
        kind, body = text[:2], text[2:]
        if kind == "x:":
            words.update(_words(body))
        elif kind == "d:":
            found = int.from_bytes(body.encode("ascii").translate(_FROM_TEXT), "little")
            dense = found if dense is None else _max_bytes(dense, found)
        elif body:
            sparse.append(body)
    if dense is None and not sparse and len(words) <= EXACT_LIMIT:
        return Sketch(words=words)
    merged = Sketch(words=None, registers=bytearray(REGISTERS))
    if dense is not None:
        merged.registers = bytearray(dense.to_bytes(REGISTERS, "little"))
    for body in sparse:
        merged.merge(Sketch.decode("s:" + body))
    _fold(merged.registers, words)
    return merged


def sketches_by_value(
    visitors: Iterable[tuple[str, Iterable[tuple[str, str | None]]]],
) -> dict[tuple[str, str], Sketch]:
    """One sketch per (dimension, value) from (visitor hash, its dimension values) pairs."""
    sketches: dict[tuple[str, str], Sketch] = {}
    for visitor_hash, values in visitors:
        word = word_of(visitor_hash)
        for dimension, value in values:
            if value is not None and value != "":
                sketches.setdefault((dimension, value), Sketch()).add(word)
    return sketches
