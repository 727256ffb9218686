"""The project's own Game Boy test cartridge (``depthfirst_test.gb``), built from ``game.s`` (sm83
assembly) and ``layout.py`` (rooms, tables, tile art) by ``build.py``.

A top-down grid world: four rooms joined by doors, five items that each set an event flag, two goals
that each give a badge, tall grass that starts a short "battle" (level +1, HP -3) and a heal cell. The
player walks one 16-pixel cell per D-pad press, centred on screen as in Pokémon Red, and the state
lives at Pokémon Red's WRAM addresses (wXCoord 0xD362, wYCoord 0xD361, wCurMap 0xD35E,
wObtainedBadges 0xD356, wEventFlags 0xD747.., wPartyCount 0xD163, party levels 0xD18C + 44 i,
HP 0xD16C + 44 i, max HP 0xD18D + 44 i, wIsInBattle 0xD057), so the Pokémon env runs on it unchanged.
"""
