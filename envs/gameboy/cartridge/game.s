; depthfirst test cartridge: a top-down grid world for the project's own tests.
;
; sm83 assembly for SDCC's sdasgb (ASxxxx syntax: '#' marks an immediate, 'n$' labels are local).
; Built by build.py: sdasgb -> sdldgb -> makebin -Z, which writes the header (logo, title, checksums).
; data.s (rooms, tiles, door and pick-up tables, T_* and START_* constants) is generated from
; layout.py at build time.
;
; The player walks one 16x16 cell per D-pad press (auto-repeat after 16 held frames, then every 8).
; The background scrolls so the player stays at screen cell (4, 4), as in Pokemon Red. The game state
; lives at Pokemon Red's WRAM addresses (pret/pokered ram/wram.asm), so the Pokemon reward code reads
; this cartridge unchanged.

; ---- Pokemon Red WRAM addresses --------------------------------------------------------------
wIsInBattle          = 0xD057   ; 0 overworld, 1 wild battle (2 trainer, 0xFF lost: unused here)
wPartyCount          = 0xD163
wPartySpecies        = 0xD164   ; list, 0xFF-terminated
wPartyMon1Species    = 0xD16B
wPartyMon1HP         = 0xD16C   ; big-endian word
wPartyMon1BoxLevel   = 0xD16E
wPartyMon1Level      = 0xD18C   ; wPartyMon1 + 0x21
wPartyMon1MaxHP      = 0xD18D   ; big-endian word
wObtainedBadges      = 0xD356
wCurMap              = 0xD35E
wYCoord              = 0xD361
wXCoord              = 0xD362
wEventFlags          = 0xD747

; ---- this cartridge's own variables ---------------------------------------------------------
ROOMBUF   = 0xC000      ; the current room's 16x16 cells (aligned: index = y * 16 + x)
ROOMBUF_H = 0xC0
hPad      = 0x80        ; HRAM offsets (ldh): buttons held (hi nibble down,up,left,right; lo start,select,b,a)
hPrev     = 0x81        ; last frame's hPad
hRepeat   = 0x82        ; frames until the next auto-repeat step
hRedraw   = 0x83        ; bit 0: redraw the whole room, bit 1: redraw cell hCell (at the next VBlank)
hCell     = 0x84
hBattle   = 0x85        ; frames left in the current battle (0: none)

LCDC_ON   = 0x93        ; LCD on, tiles at 0x8000, BG map 0x9800, 8x8 sprites on, BG on
BGP_NORMAL  = 0xE4
BGP_BATTLE  = 0x1B      ; inverted shades while a battle runs

	.area CART (ABS)

	.org 0x0040             ; VBlank interrupt: only wakes the main loop's halt
	reti

	.org 0x0100             ; entry point; makebin fills 0x0104-0x014F (logo, title, checksums)
	nop
	jp start

	.org 0x0150
start:
	di
	ld sp, #0xE000
1$:	ldh a, (0x44)           ; wait for VBlank before switching the LCD off
	cp #144
	jr c, 1$
	xor a
	ldh (0x40), a
	ld hl, #0xC000          ; clear WRAM (no stack use yet)
	ld bc, #0x2000
2$:	xor a
	ld (hl+), a
	dec bc
	ld a, b
	or c
	jr nz, 2$
	ld hl, #0xFF80          ; clear HRAM
	ld c, #0x7F
3$:	ld (hl+), a
	dec c
	jr nz, 3$
	ld hl, #tiles           ; tile patterns -> 0x8000
	ld de, #0x8000
	ld bc, #TILES_LEN
	call memcpy
	ld hl, #0xFE00          ; clear OAM, then place the four player sprites
	ld c, #160
	xor a
4$:	ld (hl+), a
	dec c
	jr nz, 4$
	ld hl, #oam_init
	ld de, #0xFE00
	ld bc, #16
	call memcpy
	ld a, #BGP_NORMAL
	ldh (0x47), a
	ldh (0x48), a           ; OBP0
	; the start of a game: map, position, one party member
	ld a, #START_MAP
	ld (wCurMap), a
	ld a, #START_X
	ld (wXCoord), a
	ld a, #START_Y
	ld (wYCoord), a
	ld a, #1
	ld (wPartyCount), a
	ld a, #START_SPECIES
	ld (wPartySpecies), a
	ld (wPartyMon1Species), a
	ld a, #0xFF
	ld (wPartySpecies + 1), a
	ld a, #START_LEVEL
	ld (wPartyMon1Level), a
	ld (wPartyMon1BoxLevel), a
	ld a, #START_HP
	ld (wPartyMon1HP + 1), a
	ld (wPartyMon1MaxHP + 1), a
	call build_roombuf
	call draw_room
	call set_scroll
	ld a, #LCDC_ON
	ldh (0x40), a
	ld a, #0x01             ; VBlank interrupt only
	ldh (0xFF), a
	xor a
	ldh (0x0F), a
	ei

main:
	halt
	nop
	; in VBlank: apply last frame's changes to VRAM and scroll
	ldh a, (hRedraw)
	bit 0, a
	jr z, 1$
	xor a
	ldh (0x40), a           ; LCD off for the full redraw (we are inside VBlank)
	call draw_room
	call set_scroll
	ld a, #LCDC_ON
	ldh (0x40), a
	jr 2$
1$:	bit 1, a
	call nz, draw_cell
	call set_scroll
2$:	xor a
	ldh (hRedraw), a
	call read_pad
	call update
	jr main

; hl = source, de = destination, bc = count (> 0)
memcpy:
	ld a, (hl+)
	ld (de), a
	inc de
	dec bc
	ld a, b
	or c
	jr nz, memcpy
	ret

; SCX/SCY so that cell (wXCoord, wYCoord) shows at screen pixel (64, 64)
set_scroll:
	ld a, (wXCoord)
	swap a
	sub #64
	ldh (0x43), a
	ld a, (wYCoord)
	swap a
	sub #64
	ldh (0x42), a
	ret

; joypad -> hPad (1 = pressed), previous -> hPrev
read_pad:
	ld a, #0x20             ; select the D-pad
	ldh (0x00), a
	ldh a, (0x00)
	ldh a, (0x00)
	cpl
	and #0x0F
	swap a
	ld b, a
	ld a, #0x10             ; select the buttons
	ldh (0x00), a
	ldh a, (0x00)
	ldh a, (0x00)
	ldh a, (0x00)
	ldh a, (0x00)
	cpl
	and #0x0F
	or b
	ld b, a
	ld a, #0x30
	ldh (0x00), a
	ldh a, (hPad)
	ldh (hPrev), a
	ld a, b
	ldh (hPad), a
	ret

; one frame of game logic
update:
	ldh a, (hBattle)
	or a
	jr z, 1$
	dec a
	ldh (hBattle), a
	ret nz
	jp end_battle
1$:	ldh a, (hPrev)          ; a newly pressed direction moves at once ...
	cpl
	ld b, a
	ldh a, (hPad)
	and b
	and #0xF0
	jr z, 2$
	ld a, #16
	ldh (hRepeat), a
	jr 3$
2$:	ldh a, (hPad)           ; ... a held one repeats
	and #0xF0
	ret z
	ldh a, (hRepeat)
	dec a
	ldh (hRepeat), a
	ret nz
	ld a, #8
	ldh (hRepeat), a
3$:	ld a, (wXCoord)         ; d, e = target cell
	ld d, a
	ld a, (wYCoord)
	ld e, a
	ldh a, (hPad)
	bit 4, a
	jr z, 4$
	inc d
	jr 7$
4$:	bit 5, a
	jr z, 5$
	dec d
	jr 7$
5$:	bit 6, a
	jr z, 6$
	dec e
	jr 7$
6$:	inc e
7$:	ld a, d                 ; off the 16x16 room (also 0 - 1 = 0xFF): blocked
	cp #16
	ret nc
	ld a, e
	cp #16
	ret nc
	swap a
	or d
	ld l, a
	ld h, #ROOMBUF_H
	ld a, (hl)
	or a
	ret z                   ; void
	cp #T_WALL
	ret z
	ld c, a
	ld a, d
	ld (wXCoord), a
	ld a, e
	ld (wYCoord), a
	ld a, c
	cp #T_DOOR
	jr z, do_door
	cp #T_GRASS
	jp z, start_battle
	cp #T_HEAL
	jp z, do_heal
	cp #T_ITEM
	jp z, do_pickup
	cp #T_GOAL
	jp z, do_pickup
	ret

; door entries: room, x, y, dest room, dest x, dest y (0xFF ends the table)
do_door:
	ld hl, #doors
1$:	ld a, (hl+)
	cp #0xFF
	ret z
	ld b, a
	ld a, (wCurMap)
	cp b
	jr nz, 2$
	ld a, (hl)
	cp d
	jr nz, 2$
	inc hl
	ld a, (hl)
	dec hl
	cp e
	jr nz, 2$
	inc hl
	inc hl
	ld a, (hl+)
	ld (wCurMap), a
	ld a, (hl+)
	ld (wXCoord), a
	ld a, (hl)
	ld (wYCoord), a
	call build_roombuf
	ld a, #1
	ldh (hRedraw), a
	ret
2$:	ld bc, #5
	add hl, bc
	jr 1$

; pick-up entries: room, x, y, event flag byte offset, flag mask, badge mask
do_pickup:
	ld hl, #pickups
1$:	ld a, (hl+)
	cp #0xFF
	ret z
	ld b, a
	ld a, (wCurMap)
	cp b
	jr nz, 2$
	ld a, (hl)
	cp d
	jr nz, 2$
	inc hl
	ld a, (hl)
	dec hl
	cp e
	jr nz, 2$
	inc hl
	inc hl
	ld a, (hl+)             ; flag byte offset; hl -> mask
	push hl
	ld c, a
	ld b, #0
	ld hl, #wEventFlags
	add hl, bc
	ld b, h
	ld c, l
	pop hl
	ld a, (bc)
	or (hl)
	ld (bc), a
	inc hl
	ld a, (wObtainedBadges)
	or (hl)
	ld (wObtainedBadges), a
	ld a, e                 ; the cell becomes floor, redrawn at the next VBlank
	swap a
	or d
	ldh (hCell), a
	ld l, a
	ld h, #ROOMBUF_H
	ld (hl), #T_FLOOR
	ldh a, (hRedraw)
	or #2
	ldh (hRedraw), a
	ret
2$:	ld bc, #5
	add hl, bc
	jr 1$

start_battle:
	ld a, #1
	ld (wIsInBattle), a
	ld a, #BATTLE_FRAMES
	ldh (hBattle), a
	ld a, #BGP_BATTLE
	ldh (0x47), a
	ret

end_battle:
	xor a
	ld (wIsInBattle), a
	ld a, #BGP_NORMAL
	ldh (0x47), a
	ld a, (wPartyMon1Level)
	cp #100
	jr nc, 1$
	inc a
	ld (wPartyMon1Level), a
	ld (wPartyMon1BoxLevel), a
1$:	ld a, (wPartyMon1HP + 1)
	sub #BATTLE_HP_COST
	jr c, 2$
	jr nz, 3$
2$:	ld a, #1
3$:	ld (wPartyMon1HP + 1), a
	ret

do_heal:
	ld a, (wPartyMon1MaxHP)
	ld (wPartyMon1HP), a
	ld a, (wPartyMon1MaxHP + 1)
	ld (wPartyMon1HP + 1), a
	ret

; ROOMBUF = the current room from ROM, with already collected pick-ups turned into floor
build_roombuf:
	ld a, (wCurMap)
	add a, #>rooms          ; high byte: room r at rooms + r * 256
	ld h, a
	ld l, #0
	ld de, #ROOMBUF
	ld bc, #256
	call memcpy
	ld hl, #pickups
1$:	ld a, (hl+)
	cp #0xFF
	ret z
	ld b, a
	ld a, (wCurMap)
	cp b
	jr nz, 3$
	ld a, (hl+)             ; x
	ld c, a
	ld a, (hl+)             ; y
	swap a
	or c
	ld c, a                 ; cell index
	ld a, (hl+)             ; flag byte offset; hl -> mask
	push hl
	ld e, a
	ld d, #0
	ld hl, #wEventFlags
	add hl, de
	ld b, (hl)
	pop hl
	ld a, (hl)
	and b
	jr z, 2$
	push hl
	ld h, #ROOMBUF_H
	ld l, c
	ld (hl), #T_FLOOR
	pop hl
2$:	inc hl
	inc hl
	jr 1$
3$:	ld bc, #5
	add hl, bc
	jr 1$

; the whole 32x32-tile background from ROOMBUF (LCD off): cell type t uses tiles 4t .. 4t+3
draw_room:
	ld hl, #ROOMBUF
	ld de, #0x9800
	ld b, #16
1$:	push bc
	push hl
	ld c, #16
2$:	ld a, (hl+)             ; top tile row of the cell row
	add a, a
	add a, a
	ld (de), a
	inc de
	inc a
	ld (de), a
	inc de
	dec c
	jr nz, 2$
	pop hl
	ld c, #16
3$:	ld a, (hl+)             ; bottom tile row
	add a, a
	add a, a
	add a, #2
	ld (de), a
	inc de
	inc a
	ld (de), a
	inc de
	dec c
	jr nz, 3$
	pop bc
	dec b
	jr nz, 1$
	ret

; the four tiles of cell hCell (in VBlank)
draw_cell:
	ldh a, (hCell)
	ld l, a
	ld h, #ROOMBUF_H
	ld a, (hl)
	add a, a
	add a, a
	ld b, a
	ldh a, (hCell)
	and #0x0F
	add a, a
	ld e, a
	ld d, #0
	ldh a, (hCell)
	and #0xF0
	ld l, a
	ld h, #0
	add hl, hl
	add hl, hl
	add hl, de
	ld de, #0x9800
	add hl, de
	ld a, b
	ld (hl+), a
	inc a
	ld (hl), a
	ld de, #31
	add hl, de
	inc a
	ld (hl+), a
	inc a
	ld (hl), a
	ret

; the player: four 8x8 sprites at screen pixel (64, 64) (OAM adds 16 to y and 8 to x)
oam_init:
	.db 80, 72, PLAYER_TILE + 0, 0
	.db 80, 80, PLAYER_TILE + 1, 0
	.db 88, 72, PLAYER_TILE + 2, 0
	.db 88, 80, PLAYER_TILE + 3, 0

	.include "data.s"
