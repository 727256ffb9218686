"""Named Game Boy RAM addresses and the helpers that read them (bytes, big-endian words, BCD, bit flags).

Pokémon Red/Blue (UE) addresses come from the pret/pokered disassembly (``ram/wram.asm``) and the
Data Crystal RAM map; the project's test cartridge keeps its state at the same addresses. ``memory``
below is anything indexable by address that also slices (``pyboy.memory``, a dict-like stub, or a
work-RAM view from ``core.work_ram`` with addresses taken from 0xC000).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class Memory(Protocol):
    def __getitem__(self, key: Any) -> Any: ...


@dataclass(frozen=True)
class Field:
    """One named RAM value: ``count`` values of ``size`` bytes, ``stride`` bytes apart."""

    addr: int
    kind: str = "u8"  # "u8" | "u16be" | "bcd" | "flags" (bit array of ``size`` bytes)
    size: int = 1
    count: int = 1
    stride: int = 0
    doc: str = ""


PARTY_STRUCT = 44  # bytes per party_struct in wPartyMons
PARTY_LENGTH = 6

POKEMON_RED: dict[str, Field] = {
    "battle_type": Field(0xD057, doc="wIsInBattle: 0 none, 1 wild, 2 trainer, 0xFF lost"),
    "party_count": Field(0xD163, doc="wPartyCount"),
    "party_hp": Field(0xD16C, "u16be", 2, PARTY_LENGTH, PARTY_STRUCT, "wPartyMon<n>HP"),
    "party_level": Field(0xD18C, "u8", 1, PARTY_LENGTH, PARTY_STRUCT, "wPartyMon<n>Level"),
    "party_max_hp": Field(0xD18D, "u16be", 2, PARTY_LENGTH, PARTY_STRUCT, "wPartyMon<n>MaxHP"),
    "money": Field(0xD347, "bcd", 3, doc="wPlayerMoney, 6 BCD digits"),
    "badges": Field(0xD356, "flags", 1, doc="wObtainedBadges, one bit per badge"),
    "map": Field(0xD35E, doc="wCurMap"),
    "y": Field(0xD361, doc="wYCoord, in 16-pixel steps"),
    "x": Field(0xD362, doc="wXCoord, in 16-pixel steps"),
    "event_flags": Field(0xD747, "flags", 320, doc="wEventFlags: flag_array NUM_EVENTS ($A00 bits)"),
}


def read_u8(memory: Memory, addr: int) -> int:
    return int(memory[addr])


def read_u16_be(memory: Memory, addr: int) -> int:
    """A big-endian word (how Pokémon stores HP and stats)."""
    return (int(memory[addr]) << 8) | int(memory[addr + 1])


def read_bcd(memory: Memory, addr: int, size: int = 1) -> int:
    """``size`` bytes of packed BCD, most significant byte first (two decimal digits per byte)."""
    value = 0
    for k in range(size):
        b = int(memory[addr + k])
        value = value * 100 + (b >> 4) * 10 + (b & 0x0F)
    return value


def bit_count(memory: Memory, addr: int, size: int = 1) -> int:
    """How many bits are set in ``size`` bytes from ``addr`` (event flags, badges).

    One big integer's popcount: Pokémon's 320 bytes of event flags count in 2 us from a work-RAM
    view (22 us through PyBoy's API, which builds a list of the bytes first)."""
    if size == 1:
        return int(memory[addr]).bit_count()
    return int.from_bytes(memory[addr:addr + size], "little").bit_count()


def read_bit(memory: Memory, addr: int, bit: int) -> bool:
    return bool((int(memory[addr]) >> bit) & 1)


def read_field(memory: Memory, field: Field) -> Any:
    """A field's value: an int, or a list of ints when ``count > 1``; "flags" gives the set-bit count."""
    def one(addr: int) -> int:
        if field.kind == "u8":
            return read_u8(memory, addr)
        if field.kind == "u16be":
            return read_u16_be(memory, addr)
        if field.kind == "bcd":
            return read_bcd(memory, addr, field.size)
        if field.kind == "flags":
            return bit_count(memory, addr, field.size)
        raise ValueError(f"unknown field kind {field.kind!r}")

    if field.count == 1:
        return one(field.addr)
    return [one(field.addr + k * field.stride) for k in range(field.count)]


class RamView:
    """``view["x"]`` reads the named field of ``table`` from ``memory``."""

    def __init__(self, memory: Memory, table: dict[str, Field] = POKEMON_RED) -> None:
        self.memory = memory
        self.table = table

    def __getitem__(self, name: str) -> Any:
        return read_field(self.memory, self.table[name])

    def addr(self, name: str) -> int:
        return self.table[name].addr
