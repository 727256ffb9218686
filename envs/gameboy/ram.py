"""Named Game Boy RAM addresses and ``bit_count``, which counts set bits (event flags, badges).

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
# wIsInBattle's -1: set by the overworld loop after a battle ended with no Pokémon standing, until the
# blackout clears it (a few frames): the battle is over, not on.
LOST_BATTLE = 0xFF

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


def bit_count(memory: Memory, addr: int, size: int = 1) -> int:
    """How many bits are set in ``size`` bytes from ``addr`` (event flags, badges).

    One big integer's popcount: Pokémon's 320 bytes of event flags count in 2 us from a work-RAM
    view (22 us through PyBoy's API, which builds a list of the bytes first)."""
    if size == 1:
        return int(memory[addr]).bit_count()
    return int.from_bytes(memory[addr:addr + size], "little").bit_count()
