"""The test cartridge's world as data: rooms, doors, pick-ups and 16x16 tile art.

``build.py`` turns this module into assembler data (``data.s``) that ``game.s`` includes, and the tests
read it to plan walks (where an item lies, which door leads where). Change it, rebuild the ROM
(``python -m envs.gameboy.cartridge.build``) and commit both.

Room legend (one character = one 16x16-pixel cell = one step, as in Pokémon Red):
  ``#`` wall   ``.`` floor   ``,`` tall grass (a short "battle": level +1, HP -3)   ``+`` heal (HP = max)
  ``@`` start (floor)   ``1``-``9`` doors (the same digit in two rooms is one two-way door)
  ``a``-``p`` items (each sets one event flag)   ``A``-``H`` goals (badge bit + an event flag)
  space / outside the drawing: void (not walkable).
"""

from __future__ import annotations

from collections import deque

# Cell type codes, shared with game.s (T_* constants). Void must be 0: rooms are padded with it.
VOID, FLOOR, WALL, GRASS, HEAL, DOOR, ITEM, GOAL = range(8)
CELL_TYPES = ("VOID", "FLOOR", "WALL", "GRASS", "HEAL", "DOOR", "ITEM", "GOAL")

ROOM_SIZE = 16  # cells per side of the background map (32x32 tiles)
MAX_ROOM = 11  # drawn rooms stay this small so the scrolled view wraps onto void, never onto the room

ROOMS: tuple[tuple[str, ...], ...] = (
    (  # 0: home
        "#########",
        "#+......#",
        "#.......#",
        "#..@..a.#",
        "#.......#",
        "#.......#",
        "####1####",
    ),
    (  # 1: field
        "#####2#####",
        "#.........#",
        "#.,,,...b.#",
        "#.,,,.....#",
        "#.........#",
        "3.........#",
        "#...###...#",
        "#...#c#...#",
        "#.........#",
        "#.........#",
        "#####1#####",
    ),
    (  # 2: cave
        "#########",
        "#...A...#",
        "#.#####.#",
        "#.#d..#.#",
        "#.#.#.#.#",
        "#.......#",
        "####2####",
    ),
    (  # 3: tower
        "########",
        "#B....e#",
        "#.####.#",
        "#......3",
        "########",
    ),
)

# Event flag bit of each item (``a`` = 0 ...) and goal (``A`` = GOAL_FLAG_BASE ...): flag n is bit n % 8
# of byte 0xD747 + n // 8, Pokémon Red's wEventFlags.
GOAL_FLAG_BASE = 16
START_SPECIES = 0x99  # Bulbasaur's internal index in Pokémon Red; only read back, never interpreted
START_LEVEL = 5
START_HP = 20
BATTLE_FRAMES = 40
BATTLE_HP_COST = 3

# 16x16 art, 4 shades: '.' 0 (white / transparent for sprites), '-' 1, 'o' 2, '#' 3 (black).
SHADES = {".": 0, "-": 1, "o": 2, "#": 3}
ART: dict[str, tuple[str, ...]] = {
    "VOID": ("#" * 16,) * 16,
    "FLOOR": (
        "................", "................", "..-.............", "................",
        "................", "..........-.....", "................", "................",
        "................", "................", ".....-..........", "................",
        "................", ".............-..", "................", "................",
    ),
    "WALL": (
        "################", "ooooooo#ooooooo#", "ooooooo#ooooooo#", "ooooooo#ooooooo#",
        "################", "ooo#ooooooo#oooo", "ooo#ooooooo#oooo", "ooo#ooooooo#oooo",
        "################", "ooooooo#ooooooo#", "ooooooo#ooooooo#", "ooooooo#ooooooo#",
        "################", "ooo#ooooooo#oooo", "ooo#ooooooo#oooo", "ooo#ooooooo#oooo",
    ),
    "GRASS": (
        "----------------", "--o------o------", "-o-o----o-o-----", "----------------",
        "------o------o--", "-----o-o----o-o-", "----------------", "--o------o------",
        "-o-o----o-o-----", "----------------", "------o------o--", "-----o-o----o-o-",
        "----------------", "--o------o------", "-o-o----o-o-----", "----------------",
    ),
    "HEAL": (
        "################", "#..............#", "#.....####.....#", "#.....#oo#.....#",
        "#.....#oo#.....#", "#.#####oo#####.#", "#.#oooooooooo#.#", "#.#oooooooooo#.#",
        "#.#####oo#####.#", "#.....#oo#.....#", "#.....#oo#.....#", "#.....####.....#",
        "#..............#", "#..............#", "#..............#", "################",
    ),
    "DOOR": (
        "################", "#oooooooooooooo#", "#o############o#", "#o#oooooooooo#o#",
        "#o#oooooooooo#o#", "#o#oooooooooo#o#", "#o#oooooooooo#o#", "#o#oooooooo..#o#",
        "#o#oooooooo..#o#", "#o#oooooooooo#o#", "#o#oooooooooo#o#", "#o#oooooooooo#o#",
        "#o#oooooooooo#o#", "#o#oooooooooo#o#", "#o#oooooooooo#o#", "################",
    ),
    "ITEM": (
        "................", ".....######.....", "...##oooooo##...", "..#oooooooooo#..",
        "..#oooooooooo#..", ".#oooooooooooo#.", ".#oooo####oooo#.", ".#####....#####.",
        ".#####....#####.", ".#....####....#.", ".#............#.", "..#..........#..",
        "..#..........#..", "...##......##...", ".....######.....", "................",
    ),
    "GOAL": (
        ".......##.......", "......#oo#......", "......#oo#......", ".....#oooo#.....",
        "######oooo######", "#oooooooooooooo#", ".#oooooooooooo#.", "..#oooooooooo#..",
        "...#oooooooo#...", "...#oooooooo#...", "..#oooo##oooo#..", "..#ooo#..#ooo#..",
        ".#ooo#....#ooo#.", ".#oo#......#oo#.", "#o##........##o#", "##..............",
    ),
    "PLAYER": (
        ".....######.....", "....#oooooo#....", "...#oooooooo#...", "...#o#----#o#...",
        "...#-#-..-#-#...", "...#--------#...", "....#------#....", "...##########...",
        "..#oo#oooo#oo#..", "..#-#oooooo#-#..", "..#-#oooooo#-#..", "...##oooooo##...",
        "....#oo##oo#....", "....#oo##oo#....", "....###..###....", "................",
    ),
}


def parse_rooms() -> dict:
    """Decode ``ROOMS`` into cell-type grids, doors, pick-ups and the start, checking the legend.

    Returns a dict with ``cells`` (list of 16x16 lists of type codes), ``doors`` (list of
    ``(room, x, y, dest_room, dest_x, dest_y)``), ``pickups`` (list of ``(room, x, y, flag, badge_bit)``
    with ``badge_bit`` -1 for items), ``start`` ``(room, x, y)``, and ``by_char`` (item/goal letter
    or ``@`` -> (room, x, y)).
    """
    cells: list[list[list[int]]] = []
    door_ends: dict[str, list[tuple[int, int, int]]] = {}
    pickups: list[tuple[int, int, int, int, int]] = []
    by_char: dict[str, tuple[int, int, int]] = {}
    start = None
    for r, rows in enumerate(ROOMS):
        if len(rows) > MAX_ROOM or max(len(row) for row in rows) > MAX_ROOM:
            raise ValueError(f"room {r} is larger than {MAX_ROOM}x{MAX_ROOM} cells")
        grid = [[VOID] * ROOM_SIZE for _ in range(ROOM_SIZE)]
        for y, row in enumerate(rows):
            for x, ch in enumerate(row):
                code: int
                if ch == " ":
                    code = VOID
                elif ch == "#":
                    code = WALL
                elif ch in ".@":
                    code = FLOOR
                    if ch == "@":
                        start = (r, x, y)
                elif ch == ",":
                    code = GRASS
                elif ch == "+":
                    code = HEAL
                elif ch.isdigit():
                    code = DOOR
                    door_ends.setdefault(ch, []).append((r, x, y))
                elif 0 <= ord(ch) - ord("a") < GOAL_FLAG_BASE:  # a-p: the goals take the flags from there
                    code = ITEM
                    pickups.append((r, x, y, ord(ch) - ord("a"), -1))
                elif "A" <= ch <= "H":
                    code = GOAL
                    badge = ord(ch) - ord("A")
                    pickups.append((r, x, y, GOAL_FLAG_BASE + badge, badge))
                else:
                    raise ValueError(f"room {r}: unknown cell {ch!r} at ({x}, {y})")
                if ch.isalpha() or ch == "@":
                    if ch in by_char:
                        raise ValueError(f"cell {ch!r} appears twice")
                    by_char[ch] = (r, x, y)
                grid[y][x] = code
        cells.append(grid)
    doors = []
    for ch, ends in sorted(door_ends.items()):
        if len(ends) != 2:
            raise ValueError(f"door {ch!r} must appear in exactly two places, found {len(ends)}")
        a, b = ends
        doors.append((*a, *b))
        doors.append((*b, *a))
    if start is None:
        raise ValueError("no start cell '@'")
    return {"cells": cells, "doors": doors, "pickups": sorted(pickups, key=lambda p: p[3]),
            "start": start, "by_char": by_char}


def tile_bytes(art: tuple[str, ...]) -> list[int]:
    """Four 8x8 Game Boy tiles (TL, TR, BL, BR; 16 bytes each, 2 bits per pixel) from 16x16 art."""
    if len(art) != 16 or any(len(row) != 16 for row in art):
        raise ValueError("tile art must be 16 rows of 16 characters")
    out: list[int] = []
    for ty, tx in ((0, 0), (0, 8), (8, 0), (8, 8)):
        for row in art[ty:ty + 8]:
            lo = hi = 0
            for ch in row[tx:tx + 8]:
                v = SHADES[ch]
                lo = (lo << 1) | (v & 1)
                hi = (hi << 1) | (v >> 1)
            out += [lo, hi]
    return out


STEPS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}


def plan_path(start: tuple[int, int, int], goal: tuple[int, int, int]) -> list[str] | None:
    """The shortest list of D-pad moves from cell ``start`` to ``goal`` (both ``(room, x, y)``),
    through doors, never entering walls, void, tall grass or a pick-up other than the goal; None if
    the goal cannot be reached. (A door is passed by walking onto it: one move lands in the next room.)"""
    world = parse_rooms()
    doors = {d[:3]: d[3:] for d in world["doors"]}
    blocked = {VOID, WALL, GRASS, ITEM, GOAL}
    prev: dict[tuple[int, int, int], tuple[tuple[int, int, int], str] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            moves = []
            while prev[node] is not None:
                node, move = prev[node]
                moves.append(move)
            return moves[::-1]
        room, x, y = node
        for move, (dx, dy) in STEPS.items():
            nx, ny = x + dx, y + dy
            if not (0 <= nx < ROOM_SIZE and 0 <= ny < ROOM_SIZE):
                continue
            nxt = (room, nx, ny)
            if world["cells"][room][ny][nx] in blocked and nxt != goal:
                continue
            nxt = doors.get(nxt, nxt)
            if nxt not in prev:
                prev[nxt] = (node, move)
                queue.append(nxt)
    return None
