"""Verifiers: score a model's response to a task record, and read a move out of it.

``verify(response, record) -> {"overall", "format", "accuracy"}`` (each 0.0..1.0, ``overall`` =
``(1 - FORMAT_WEIGHT) * accuracy + FORMAT_WEIGHT * format``, EasyR1's weighting) using the record's
``verifier`` spec, ``{"rule": ..., ...}``:

- ``choice``      ``options``, ``answer`` (a letter): one option letter, or the option's exact text; a
                  letter set before an option's text ("Option B: text") counts only when the two agree.
                  Emphasis around a letter does not matter ("Option __B__" as "Option **B**", "option
                  __b__" as "option b", "(**b**)" as "(b)"); one joined to a name by underscores is none
                  ("B_2", "A_B").
- ``integer``     ``value``, ``count`` (optional, true when left out): exactly one distinct integer in the
                  answer (digits, "3.0" as 3, or a number word up to twenty; restated, "5, so the answer
                  is 5", it is still one); "none" ("no one", "nobody" too, never 1), and "no" or "not any"
                  ("n't any", "cannot any") before a plural noun ("No badges yet", "There aren't any
                  apples"), with at most one word between (an adjective after "no", "No gym badges"; a
                  verb of seeing, having or earning before "any", "I cannot see any apples", "hasn't
                  earned any badges"), are 0 only where the value is a count, not an id (``count``
                  false: a map, a player's number, where they are no number). ``noun`` (optional): the
                  plural a count asks about ("apples"): where a reply says "no <noun>", a number before
                  another plural noun is that noun's, not the count ("No apples, 3 walls" is 0; without
                  the key, 3).
- ``coordinate``  ``value`` [x, y]: exactly two integers, e.g. "(3, 4)", or that pair restated.
- ``word``        ``choices``, ``accepted``: exactly one distinct word of ``choices``, and it is accepted
                  (moves such as UP or X+, yes/no with their spoken forms such as "Nope", Pokémon's
                  buttons; "X-axis" names no turn X-). Case does not matter, nor emphasis around a word
                  ("__UP__" as "**UP**"; "UP_LEFT" is one word, no move); a one-letter choice that is
                  also a word (button a) counts only where it stands as an answer ("Press A", "press a to
                  talk", "(a)", "press __a__"), not as the article in "Walk up a bit". A direction where
                  a wall is names no move ("the wall on the right", "the wall is to the right"; "along the
                  wall to the right" may be the move RIGHT).
- ``snake_best_worst`` (ViGaL's Snake rule) ``moves``, ``good``, ``fatal``: ``<best_answer>`` names one
                  move of ``good`` (or None when ``good`` is empty) AND ``<worst_answer>`` names exactly
                  the set of ``fatal`` moves ("None" when there is none). ``safe`` (optional, Duel
                  Snake's): the moves that survive every opponent move; given and empty, the best move is
                  a risky one and "risky" said of it is no verdict ("DOWN (risky, no move is safe)").
- ``rotation_angle`` (ViGaL's exact-angle rule) ``axis``, ``angle``, ``axis_given``, ``options``,
                  ``answer``: the option letter (a letter before an option's text read as ``choice``
                  reads it), or the angle in degrees (exact, modulo 360, so −90 = 270)
                  and, unless ``axis_given``, the one axis; an axis written with a sign, after it as the
                  prompts name turns or before it as they name axes, counts: 90 about Z− or −z is −90 about Z.
- ``exact``       ``answer``: the normalised answer text equals it (fallback for foreign ground truths);
                  a blank one is matched by no reply, an empty one included.

A negation (not, n't or "nt" as in "dont", never, except, avoid, instead of, ...; in emphasis too, "__Not__
UP", not inside a name, "is_not_blocked") takes back what follows it up to the next punctuation mark, dash
(" - ", "--", "—"), line end, "is" or conjunction "but", "so", "and" (``_NEGATION``): a reply is credited only
where its answer stays the same without that ("Not RIGHT", "B, not C" are none; "No, it is not alive" is no,
"I cannot see a wall so UP" is UP). A verdict on the answer takes back the word before it, and a number just
before that word, or before it and one word more, with it ("5 apples", "3 red cubes", "None yet"), never a
pronoun, which is no answer ("No it would crash" is no). The verdicts are closed word lists; a noun after one
says whether it is on the answer (answer, option) or on the move (move, idea, choice, direction). On the
answer (``_DENIED``): "is not" (isn't, isnt, was not, wasn't, would or will not be, won't be, isn't going to
be; 'll or 'd not be after which, that, this or the word: "B'd not be right"; never for not: "UP is never
safe") with correct, right, true or valid, a good, valid or correct answer/option (with a or no article), or
the/my (correct, right, final) answer/option; "is" (was, would, will, should, must or is to be, is going to or
gonna be; 'll, 'd or 's going
to be after which, that, this or the word: "B'll be wrong") with wrong, incorrect, false or invalid, or a bad,
wrong, incorrect or invalid answer/option (with a, the or no article), or no good answer/option ("Option B is
not correct", "B is wrong", "B is an incorrect answer" are none), in every answer,
a Snake worst answer too ("DOWN is wrong", "DOWN is wrong because it hits the wall", "DOWN is not correct",
"DOWN is bad answer" name no move there, so score 0 where DOWN is fatal: read as the move, a verdict that says
it is no fatal one, "DOWN is wrong, LEFT", would credit a move the reply took back; the prompt asks for the
moves alone). So does a verdict on the move (``_REJECTED``): "is" with unsafe, fatal, deadly, lethal,
dangerous, illegal, risky, bad, suicidal, terrible, impossible, poor, disastrous, catastrophic, game-ending
(game ending), unwise, inadvisable, blocked, killed, suicide, out of the question (or of bounds), avoided
(best or better avoided too: "UP should be avoided"), the move (one, direction, choice) to avoid (ending its
clause: "UP is the move to avoid the wall" is UP), death (certain, instant or immediate too; not hyphened to a
word: "death-free"), game over (game-over), no good (ending its clause), a (fatal, deadly, big, huge,
terrible, grave, serious, costly) mistake, error, disaster or catastrophe, or a dead end, a (death) trap, a
death sentence or a no-go (the or no article too; not hyphened to a word), or a bad, wrong, incorrect, false,
invalid, illegal, unsafe, fatal, deadly, lethal, dangerous, risky, suicidal, suicide, terrible, losing,
impossible, poor, unwise, disastrous, catastrophic, game-ending, worst or blocked move/idea/choice/direction
(with a, the or no article: "the wrong direction", "an invalid move", "wrong move", "the worst move"); "is
not" with safe, good, legal, allowed, possible, viable, recommended, advisable or wise ("UP is not good"), or
a good, safe, valid, legal, right, correct, true, allowed, possible or viable move/idea/choice/direction ("not
a valid move", "not the right direction"), or an option or a viable option ("UP is not an option"); would or
will ('d, 'll, 's gonna after which, that, this or the word: "UP'll crash"), maybe with an adverb (below),
with a fatal verb, crash, die, collide or go out of bounds, kill with the (our, my, your) snake, itself, us,
me, you or it, or hit, bite, eat or run (go, move, head, lead, steer; straight or directly) into with the, a
or no wall (boundary, border, edge; not hyphened to a word, nor the edge's row, column, cell or lane: "UP
moves into the edge column" is UP), itself or its (own) body/tail, or cause or make the (our, my, your)
snake, itself, us, me, you or it (to) crash, die or collide, or lead to, result in, cause or mean the snake
(itself, us, ...) dying, crashing or colliding, or (its, our, the snake's; certain, instant, immediate) death,
(a) game over, a (an, the; certain, instant or immediate) crash or collision (no article where it ends its
clause or goes on with "with" or "into": "UP leads to crash"; "UP leads to collision avoidance" is UP) or a
(the) loss ending its clause, none hyphened to a word ("a crash-free path"), or get (the snake, us, ...)
killed, or end the
game, lose or lose the game where that ends its clause or goes on with because, since or as, maybe after
immediately, instantly, at once,
outright or for us (me, you, it, the snake) ("UP would lose", "UP would lose immediately", "UP would end the
game for us"; "UP ends the game with a win" is UP, as is an ending or game over said to be a win past a
mark or because, since or as: the other snake (blue, the opponent, the opponent's snake, ...) dead, dying,
crashing, trapped or killed ("is" left out too: "(blue dead)"; would or will die, crash, lose), our win, a
win or the puzzle (level) solved or complete, ending its clause: "UP → ends the game (blue dies)", "UP ends
the game immediately: blue is trapped", "UP → game over (solved!)";
"(blue wins)", "(blue dies too)" leave it a loss, as does our death said after it: "(blue dead, us too)",
"(blue dies, but so do we)") ("is going to" or "is gonna" as would or will: "UP is going
to crash", "UP is gonna crash"), or the same verb in the present right after the word or which, that or this
(crashes, dies, collides, kills, hits, gets or got killed, ends, loses):
"Moving UP would be a mistake", "UP is illegal", "UP is risky", "UP is impossible", "UP is a poor move", "UP
is blocked", "UP is a dead end", "UP would be killed", "UP will be killed", "UP is going to be killed", "UP is
death", "UP is certain death", "UP is no good", "UP is not allowed", "UP would kill the snake", "UP will crash
into the wall", "UP would definitely crash", "UP kills the snake", "UP leads to death", "UP results in death",
"UP means death", "UP gets killed" are none, except in a worst answer, which asks for the fatal moves ("DOWN
is fatal", "DOWN is dangerous", "DOWN is bad", "DOWN is not a valid move" name DOWN there). "UP is not
blocked", "UP is not wrong", "UP is not dangerous", "UP is not bad", "UP is possible" are UP; any other verb
phrase is no verdict, nor is one said for, to or by the other snake (blue, the opponent, enemy, rival, the
other snake, one or player; not "other" alone: "UP is lethal for blue", "UP would be a disaster for the
opponent"), nor one on "it" in the sentence right after one whose subject is the other snake, where "it" is
that snake ("Blue is next to our head. UP would make it crash into our body", "The opponent is trapped. UP
causes it to die" are UP; without such a sentence "it" is ours, "UP causes it to die") ("UP would hit the
apple", "UP would kill the other snake", "UP could crash", "UP won't kill the snake", "UP leads to the
apple", "UP means the apple", "UP means death is avoided" (or averted, prevented, escaped), "UP does not
result in death", "UP is not going to crash" are UP). An adverb of
certainty, speed, degree or addition (``_ADVERB``: definitely, surely, certainly, clearly, obviously,
absolutely, almost or most certainly, almost surely, immediately, instantly, very, extremely, highly, really,
too, quite, also, likewise) may come before any verdict, its "not", a verb in the present or an adjective
after an article, past a mark too ("UP is very dangerous", "UP is also not safe", "UP also crashes", "UP is a
really bad move", "UP (too risky)", "UP - very dangerous", "B (definitely wrong)" are none; "UP would
probably crash", a risk, "UP would almost crash" and "UP is not just safe" are UP). Either verdict said of
which, that or this right after the word or bracketed pair, past a punctuation mark, dash, arrow ("->", "=>",
"→", "⇒", "=") or opening bracket (round or square), or of "which" right after the word, or of a dash before
is (was, would, will, should, must), takes it back too ("UP, which is wrong", "UP which is wrong", "UP - is
fatal", "UP - that is wrong", "UP -- that is wrong", "5 apples, which is
wrong", "UP. That is a mistake", "UP (that would be fatal)" are none; "UP, which is safe" and "UP, which is
not wrong" are UP); so does either verdict alone ("not" for "is not") past such a mark, dash or bracket where
it ends its clause or goes on with because, since or as ("UP - wrong", "UP: wrong", "UP (fatal)", "UP: not
safe" are none; "UP: wrongly drawn", "UP - wrong moves hit walls", the conceding "UP, wrong as it may seem"
and the asked "UP. Dangerous? Not really" keep UP), and so does a fatal verb in the present or a bare crash or
collision (``_BARE_CRASH``) past one where the answer is a move ("UP → dies", "UP - hits the wall", "UP:
crash" are none; "UP: collision-free" is UP), as does death or game over alone past one; after an option
letter, a number or a cell these are the answer's outcome ("B → dies", "D → game over" are B, D).
A cross mark after the answer, past a mark, a space or none, is a verdict (``_CROSSED``: "UP ❌", "UP ✗",
"B ✘" are none; "UP ✅", "UP ✓" are UP); past . ! or ? only where it ends its line or a bracket follows ("UP.
❌", "UP. ❌ (wall)" are none, "Go UP. ❌ Never toward the wall." is UP).
A verdict joined by "and", "or" or "but" to one-word verdicts of the same subject is one too ("UP is safe and
fatal", "UP is safe but fatal", "UP, risky and dangerous", "UP (fatal and risky)" are none; "UP is safe and
good", "UP: not risky and not fatal", "UP is not risky or fatal", "UP is safe and death is avoided" are UP).
So is "is" (is not) with its verdict after a verb in the present of the word, up to five words and "and"
or "but" (``_DOES_AND``: "UP avoids the wall and is fatal", "UP avoids the wall, but is fatal" are none;
"UP avoids the wall and is safe" is UP; as, whereas, unless, plus, besides or thus is no verb: "UP, as the
alternative hits the wall and is fatal" is UP).
A verdict in emphasis, asterisks or underscores, around it or any of its words, reads as one without it ("UP
is **wrong**", "UP is __wrong__", "UP - **wrong**", "UP is **not** safe", "UP - **dangerous** move" are none;
"UP - **risky?** No", "UP is __right__", "UP is **not** wrong" are UP). Neither after yes or no, whose "that"
is the question's: "No, that would be a mistake" and "No - wrong" are no. A fatal outcome after a no set off
by a mark is why it is no ("No → dies", "No. Dies", "No - crashes into wall" are no; "Yes. Dies" is none).
An option's own text and an ``exact`` answer are compared whole.

Where the answer is read: the single ``<answer>`` (or ``<best_answer>``/``<worst_answer>``) tag after
the reasoning; inside it a single ``\\boxed{}`` is unwrapped. Without an answer tag a single ``\\boxed{}``
counts, and without either a short bare reply with no tags (e.g. "UP"). ``format`` is 1 when the reply
is ``<think>…</think>`` followed by exactly one of each answer tag.

Adversarial replies never earn accuracy: several answer tags, an answer only inside ``<think>``, listing
every option or move, answers over ``MAX_ANSWER_CHARS``, replies over ``MAX_RESPONSE_CHARS``, bytes that
are not UTF-8, non-strings. Parsing is linear (``str.count``/``find`` and bounded regexes), never raises
on a response, and only raises on a malformed record (a bug, not a model's fault).

``ground_truth_json(record)`` is the string trainer formats store as the ground truth (verl's
``reward_model.ground_truth``, EasyR1's ``answer``, OpenRLHF's label, a TRL column): the verifier spec
and answer as JSON, from which ``verify`` rebuilds everything it needs.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FORMAT_WEIGHT = 0.1
MAX_RESPONSE_CHARS = 100_000  # ~25k tokens: longer replies are degenerate (loops) and score 0
MAX_ANSWER_CHARS = 500  # an answer tag holds an answer, not an essay
_BARE_CHARS = 64
GROUND_TRUTH_VERSION = 1

_TAG_NAMES = "think|answer|best_answer|worst_answer"
# Bounded whitespace only (Qwen2.5-VL-32B writes "< answer >"): no nested quantifiers, linear time.
_TAG_SPACES = re.compile(r"<\s{0,3}(/?)\s{0,3}(" + _TAG_NAMES + r")\s{0,3}>", re.IGNORECASE)
# A number as written: a minus or none, then digits with at most one fraction, or a bare fraction (".5" is
# 0.5, not 5), read whole (``_numbers``: "3.0" is the integer 3, not 3 and 0; an answer's MAX_ANSWER_CHARS
# are far below int()'s digit limit, so no cut). Never from the middle of one (no digit or point just
# before), nor part of a version or date ("1.0.5": no digit or ".digit" just after).
_NUMBER = re.compile(r"-?(?<![\d.])(?:\d+(?:\.\d+)?|\.\d+)(?!\d|\.\d)")
_NUMBER_WORDS = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"))}
_NUMBER_WORDS["none"] = 0  # a count of zero ("None yet": Pokémon's badges at the start), as "zero" is
# "No one" (or "nobody") is nobody, never the number 1 ("No one is the spy" named player 1): read as "none".
_NO_ONE = re.compile(r"\b(?:no[ \t-]{1,3}one|nobody)\b", re.IGNORECASE)
# "no" before a word on its line, read as the count 0 where that word is a plural noun, or where one word
# comes between ("No gym badges"; ``_no_count``). The next word is looked at, not taken: "no gym no badges".
_NO_WORD = re.compile(r"\bno[ \t]{1,3}([^\W\d_]{1,30})\b(?:(?=[ \t]{1,3}([^\W\d_]{1,30})\b))?",
                      re.IGNORECASE)  # any letters: "no Pokémon"
# Words after which "no" is no determiner: a link, pronoun or article ("No because", "No it dies", "No the
# wall"), or the adverb longer ("no longer alive"); shared by ``_DETERMINER_NO`` and ``_no_count``.
_AFTER_NO = ("or", "and", "nor", "but", "because", "since", "as", "so", "then", "it", "i", "he", "she", "we",
             "you", "they", "there", "this", "that", "the", "a", "an", "longer")
# Nor is a word one between "no" and a plural noun where it compares ("No more apples than boxes", "No other
# apples" say nothing of zero) or is a number ("No five apples").
_NO_ADJECTIVE_NOT = frozenset(_AFTER_NO) | {"more", "fewer", "less", "other"}
# Plurals of knowing or replying, never a count's noun: "No ideas", "No clues" know nothing, as "No idea";
# nor the reply's own materials: "No images were provided" is a model that saw nothing.
_NO_COUNT_NOUNS = frozenset({"ideas", "clues", "answers", "guesses", "thoughts", "comments", "thanks",
                             "hints", "details", "means", "words", "opinions", "worries", "images",
                             "pictures", "screenshots", "photos"})
# A word's underscores join letters ("UP_LEFT", "snake_body" are one word, no move); around it they are
# emphasis, as asterisks are: "__UP__" is UP.
_WORD = r"[a-z0-9]+(?:_+[a-z0-9]+)*"
_WORDS = re.compile(_WORD)
# A sign ends a word only where no word goes on: "x-" is the turn, "x-axis" and "x-_axis" the axis (no turn).
_SIGNED_WORDS = re.compile(_WORD + r"(?:[+\-](?!_*[a-z0-9]))?")
# A capital standing alone, in underscore emphasis too ("__B__" as "**B**"); joined to a name by underscores
# ("B_2", "A_B", "__B_2__") it is none. The letter is group 1.
_LETTER = re.compile(r"(?<!\w)_{0,3}([A-Z])_{0,3}(?!\w)")
# An axis with a sign after it, as the prompts name turns, or before it, as they name axes: "Z-", "x +", "-z",
# "+Y"; not "Z-axis", "Z-90", "x-z", "270-Z".
_SIGNED_AXIS = re.compile(r"\b[XYZxyz]\s?([+\-])(?![\w+\-])|(?<![\w+\-])([+\-])[XYZxyz]\b")
# A letter then an option's text, as the options are listed ("B. text", "(B) text", "Option B: text",
# "**B.** text", "The correct answer is B - text"): the letter counts when the text is its own option's.
_LETTER_AND_TEXT = re.compile(r"(?:[\w\s]{0,24}?\b(?:option|choice|answer)(?:\s{1,3}is)?\W{0,3})?"
                              r"[(\[]?([A-Za-z])(?:\s{0,3}[^\w\s]{1,4})?\s{1,3}(\S.*)",
                              re.DOTALL | re.IGNORECASE)
# The pronoun I ("I think it's B", "I'd say B"): I before a lowercase word or a contraction, neither
# inside brackets nor after a word that names a letter ("Option I is right"); "I is" is the letter.
_PRONOUN_I = re.compile(r"(?<![(\[])\bI(?=\s+(?!(?:is|was|seems|looks|matches)\b)[a-z]|['’](?:m|d|ll|ve)\b)")
# A lowercase letter where only an option letter can stand: in brackets ("(b)", "[b]"), or after a word
# that names one and before the end, a punctuation mark or a verb ("option b", "answer: b", "choice (c) is
# right"), in emphasis too ("option __b__", "Option **b**", "(**b**)"). Elsewhere a lowercase letter is
# running text: the article in "a box", "my answer: a box", and a bracket right after a word ("f(x)",
# "cell[i]", "f(**x**)") is an argument or an index, not a letter.
_LOWER_LETTER = re.compile(r"\b(?i:option|choice|letter|answer)(?:\s{1,3}is)?\s{0,3}[:=\-]?\s{0,3}[(\[]?"
                           r"[*_]{0,3}([a-z])[*_]{0,3}[)\]]?"
                           r"(?=\s{0,3}(?:[,;:.!?]|$)|\s{1,3}(?:is|was|seems|looks|matches)\b)"
                           r"|(?<!\w)[(\[][*_]{0,3}([a-z])[*_]{0,3}[)\]]")
# A lowercase one-letter choice that is also an English word (button a) where only a button can stand:
# after a word that names one, or a link, and before the end, a punctuation mark or a link ("press a",
# "up and a", "press a to talk"), before "button" after "the" ("the a button"), in brackets, quotes or
# emphasis ("(a)", "`a`", "**a**", "__a__"; not "snake_a_b"), or opening the answer before a punctuation mark
# or a link ("a, then up", "a to confirm"). Elsewhere it is running text: the article in "walk up a bit",
# "press a button".
_LINK = r"\s{1,3}(?:to|then|and|or|again|now|first|once|twice)\b"
_LOWER_BUTTON = re.compile(r"\b(?i:press|pressing|push|hit|tap|use|with|select|choose|button|key|answer|and|"
                           r"or|then)(?:\s{1,3}is)?\s{0,3}[:=\-]?\s{0,3}([a-z])(?=\s{0,3}(?:[,;:.!?]|$)|"
                           + _LINK + ")"
                           r"|\b(?i:the)\s{1,3}([a-z])\s{1,3}(?i:button|key)\b"
                           r"|[(\[\"'`*]([a-z])[)\]\"'`*]"
                           # in underscore emphasis as in asterisks ("press __a__", "(__a__)"), not in a name
                           r"|(?<!\w)_{1,3}([a-z])_{1,3}(?!\w)"
                           r"|^\s{0,3}([a-z])(?=\s{0,3}[,;:.!?]|" + _LINK + ")")  # opening: "a, then up"
# One-letter choices that are English words; any other (button b) counts wherever it stands as a word.
_WORD_LETTERS = frozenset({"a", "i"})
# The article at a sentence's start, before a lowercase word that is no verb or link ("A bit further up"
# names no button A; "A to talk", "A then up" do).
_ARTICLE_A = re.compile(r"(?:^|[.!?\n])[ \t]{0,3}(A)(?=\s{1,3}(?!(?:to|then|and|or|now|again|first|once|"
                        r"twice|button|key|is|was|will|would|should|confirms|talks|opens|selects)\b)[a-z])")
# The determiner no before a word on its line ("no idea", "I have no clue", "there is no wall") is no answer
# to a yes/no question: read as one, a reply that knew nothing scored as no. Before a word no determiner
# takes, a link, pronoun or article ("no or yes", "No because it dies", "No it dies", "No the wall"), it is
# the word still, as before the adverb longer ("It is no longer alive" is no).
_DETERMINER_NO = re.compile(r"\bno(?=[ \t]{1,3}(?!(?:" + "|".join(_AFTER_NO) + r")\b)[a-z])", re.IGNORECASE)
# A direction after a wall (boundary, border, edge) "on the" or "is on (to) the" names where the wall is, not
# a move: "UP, away from the wall on the right" and "UP (the wall is to the right)" named RIGHT too. Not "to"
# alone: "along the wall to the right" may be the move.
_WALL_SIDE = re.compile(r"(\b(?:walls?|boundary|border|edge)(?:[ \t]{1,3}on|[ \t]{1,3}(?:is|are)[ \t]{1,3}"
                        r"(?:on|to))[ \t]{1,3}(?:the|its|our|my|your)[ \t]{1,3}[*_]{0,3})"
                        r"(?:up|down|left|right)\b", re.IGNORECASE)
_WALL_NAMES = ("wall", "boundary", "border", "edge")  # _WALL_SIDE's (keep in step), for its quick test
# The spoken forms of yes and no, which a yes/no question's choices read as those words ("Nope" is no).
_SPOKEN_YES_NO = {"yep": "yes", "yup": "yes", "yeah": "yes", "nope": "no", "nah": "no"}
# Pokémon's button start read where the word is the verb or the noun in running text ("Start by going up",
# "Start moving up", "from the start of the path") named a second button. It counts as the button after a
# word that presses one ("press start by the door"), or before the end, a punctuation mark, a word that
# names a button or a link ("the start button", "Start, then up", "start to open the menu"); elsewhere a
# word after it makes it the verb or the noun ("Start by", "start with up", "start to walk up"); "again" does
# not, before the end, a punctuation mark or a closing quote, bracket or emphasis ("**Start again**").
_START = re.compile(r"\bstart\b", re.IGNORECASE)
_PRESSES_START = re.compile(r"\b(?:press|pressing|presses|push|pushing|hit|hitting|tap|tapping|select|"
                            r"use|using)\W{0,3}$", re.IGNORECASE)
_VERB_START = re.compile(r"\s{1,3}(?!(?:button|key|menu|then|and|or|now|first|once|twice|is|was|will|would|"
                         r"should|opens|pauses|brings|to\s{1,3}(?:open|pause|bring|access|view|see|check|"
                         r"save|confirm))\b|again\s{0,3}(?:[,;:.!?]|[)\]\"'`*](?!\w)|$))[a-z]",
                         re.IGNORECASE)
# A negation takes back what follows it, up to the next punctuation mark, dash, line end, "is" or conjunction
# "but", "so" or "and" (a bracketed pair whole): a reply whose answer it covers names none ("Not RIGHT", "All
# except RIGHT", "Don't go UP", "Not (3, 4)"; "B, not C" names two), where a negation of anything else changes
# nothing ("No, it is not alive", "The colour that does not appear is B", "I cannot see a wall so UP"). Read
# as any other words, the negated answer was credited. The "so" of "not so sure" is no conjunction; "--"
# ("---") is plain text's em dash, a dash as "—" is (the en dash is read as a hyphen in ``parse``). A
# contraction without its apostrophe ("Dont go UP", "isnt"), as models often write it, is one too
# (``_NT``: an auxiliary then "nt", "aint" too; "cant" and "wont" are nouns too rarely to matter).
# Underscore emphasis around one reads as asterisks do ("__Not__ UP"); inside a name ("is_not_blocked") it is
# none (_EM_START, _EM_END).
_EM_START = r"(?<!\w)_{0,3}"
_EM_END = r"(?=_{0,3}(?!\w))"
_NT = (r"(?:n['’]|" + _EM_START + r"(?:do|does|did|is|are|was|were|has|have|had|ca|wo|ai|would|could|should|"
       r"must|need)n)t" + _EM_END)
_NEGATION = re.compile(r"(?:" + _EM_START + r"(?:not|cannot|never|except|avoid|avoiding|instead\s{1,3}of|"
                       r"rather\s{1,3}than|other\s{1,3}than|(?:anything|everything|all)\s{1,3}but)" + _EM_END
                       + "|" + _NT + ")"
                       r"(?:\([^()\n]{0,40}\)|\[[^\[\]\n]{0,40}\]|[^\n])*?"
                       r"(?=[,;:.!?](?:\s|$)|\s-\s|--|—|\n|\b(?:is|are|was|were|but|and)\b|(?<!not\s)\bso\b|$)",
                       re.IGNORECASE)
# "not any" (n't any) before a word, read as the count 0 where that word is a plural noun, as "no" is: the
# negation would take back "any apples" of "There aren't any apples" (``_not_any``). A verb of seeing,
# finding, counting, having or earning may come between ("I cannot see any apples", "doesn't have any
# Pokémon", "hasn't earned any badges"); any other word leaves it a negation ("I'm not sure any boxes are on
# targets" says no count).
_ANY_VERBS = (r"(?:see|seen|find|found|spot|spotted|count|counted|notice|noticed|detect|detected|observe|"
              r"observed|have|has|had|hold|holds|held|contain|contains|contained|show|shows|showed|shown|own|"
              r"owned|need|needed|carry|carried|earn|earned|get|got|gotten|collect|collected|obtain|obtained|"
              r"win|won)")
_NOT_ANY = re.compile(r"(?:\b(?:can)?not|" + _NT + r")[ \t]{1,3}(?:" + _ANY_VERBS + r"[ \t]{1,3})?"
                      r"any[ \t]{1,3}([^\W\d_]{1,30})\b", re.IGNORECASE)
# A number right before a word ("3 walls", "two snakes"): with a count's noun, a reply that says "no <noun>"
# counts other nouns with it (``_about_noun``).
_OTHER_COUNT = re.compile(r"(?<![\w.])(?:\d+(?:\.\d+)?|" + "|".join(w for w in _NUMBER_WORDS if w != "none")
                          + r")[ \t]{1,3}([^\W\d_]{1,30})\b", re.IGNORECASE)
# A negation after the answer that says it is wrong ("Option B is not correct", "5 isn't right", "(3, 4) is
# not the answer") takes back the word or bracketed pair before it. Only these predicates: "UP is not
# blocked" keeps UP, and an option's text may say "B is not on a target".
# (A word's opening bracket stays: "(it is fatal)" stays a bracketed group that a negation before it takes.)
# A count before its noun ("5 apples", "**five** boxes", "None yet"), one word between allowed ("3 red cubes",
# as "No gym badges"), is taken back with the noun: "5 apples, which is wrong" rejects the 5, where the noun
# alone left it credited. (The number words' order does not matter: a space or emphasis must follow one.)
_COUNTED = (r"[*_`]{0,3}(?:-?\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")[*_`]{0,3}"
            r"(?:\s{1,3}[^\W\d_]{1,30}){1,2}\b")
# Where the answer's word (a subject) may start: after a space or an opening bracket, or at the start.
_WORD_START = r"(?<![^\s(\[])"
_WORD_BEFORE = _WORD_START + "(?:" + _COUNTED + r"|\([^()\n]{0,40}\)|\[[^\[\]\n]{0,40}\]|[^\s(\[]{1,40})"
# Never a pronoun, which is no answer: taken back, "No it would crash" read "No would crash", no as the
# determiner of "no idea".
_PRONOUN = r"(?:it|this|that|they|he|she|we|you)"
_SUBJECT = r"(?!" + _PRONOUN + r"\s)" + _WORD_BEFORE + r"\s{1,3}"
# Emphasis, asterisks or underscores ("UP is **wrong**", "UP is __wrong__"), and the end of a verdict's word:
# no letter or digit after it, as an underscore closing emphasis is a word character to \b. A verdict's
# words are apart by space that emphasis may open or close at ("UP is **not** safe", "UP - **bad** move").
_EM = r"[*_]{0,3}"
_END = r"(?![^\W_])"
_SP = _EM + r"\s{1,3}" + _EM
# An adverb of certainty, speed, degree or addition before a verdict or its "not" says the same ("UP would
# definitely crash", "UP will instantly die", "UP is very dangerous", "UP is also not safe", "UP also
# crashes", "a really bad move"). A closed list: "UP would probably crash" is a risk, as "could" is, "almost"
# alone says it does not happen ("UP would almost crash"), and "not just safe" is safe and more.
_ADVERB = (r"(?:(?:almost|most)" + _SP + "(?:certainly|surely)|definitely|surely|certainly|clearly|obviously|"
           r"absolutely|immediately|instantly|very|extremely|highly|really|too|quite|also|likewise)" + _END)
# Maybe an adverb, after a verb ("UP would definitely crash") or before the verb or adjective ("UP also
# crashes", "a really bad move").
_SP_ADVERB = "(?:" + _SP + _ADVERB + ")?"
_ADVERB_SP = "(?:" + _ADVERB + _SP + ")?"
# "will be", "should be", "must be", "is to be" and "is going to be" ("is gonna be") as "would be" ("UP will
# be killed", "UP should be avoided", "UP is going to be fatal"), "won't be" and "isn't going to be" as
# "wouldn't be" ("UP won't be safe").
_GOING = r"(?:going" + _SP + "to|gonna)"
_IS = r"(?:is|was|(?:would|will|should|must|is" + _SP + "(?:to|" + _GOING + "))" + _SP + "be)"
# "not", or "never" in its place ("UP would never be safe"), maybe after an adverb ("UP is clearly not safe")
_NOT = _SP_ADVERB + _SP + "(?:not|never)" + _END
_IS_NOT = (r"(?:(?:is|was)(?:" + _NOT + r"|n['’]?t)|(?:(?:would|will)(?:" + _NOT + r"|n['’]?t)|won['’]?t)"
           + _SP + "be|is(?:" + _NOT + r"|n['’]?t)" + _SP + _GOING + _SP + "be)")
# The same verdict said of which, that or this right after the answer's word, past a punctuation mark, dash
# (" - ", "—", or "--"/"---", plain text's em dash) or opening bracket ("UP, which is wrong", "UP - that's
# not correct", "UP. That is a mistake", "UP (that would be fatal)"): it can only be the answer just named.
# Not after yes or no, whose "that" is the question's ("Should it go UP? No, that would be a mistake" is no).
# What follows it starts with a space, a mark, an emphasis or a cross (the first characters of _SEP, _POINTER
# and _CROSSED; keep them in step): tested at once, as the word's end is backtracked through each of its
# characters ("UP," is "UP" then ","), the lookaheads after it run only where one can start.
_POINTED_NEXT = r"(?=[\s,;:.!?\-—=→⇒*_❌✗✘✖])"
_POINTED = r"(?![^\w\s]{0,3}(?:yes|no|yep|yup|yeah|nope|nah)\b)" + _WORD_BEFORE + _POINTED_NEXT
# A punctuation mark, dash, arrow or equals sign (as replies write an outcome: "UP → fatal", "UP -> dies",
# "UP = death") or opening bracket (round or square: "UP [unsafe]") after the answer, before a pointer or a
# verdict alone.
_SEP = r"(?:[,;:.!?]\s{1,3}|\s{1,3}-\s{1,3}|\s{0,3}(?:—|-{2,3}|-{1,2}>|=>|→|⇒|=)\s{0,3}|\s{1,3}[(\[]\s{0,3})"
# An adverb (_ADVERB) before a verdict or fatal outcome alone past such a mark says the same: "UP (too
# risky)", "UP - very dangerous", "UP → immediately dies", "B (definitely wrong)" as "UP is too risky".
_MARKED = _SEP + _EM + _ADVERB_SP
# A cross mark after the answer, past such a mark, a space or none ("UP ❌", "UP✗", "UP: ❌ wall", "UP (✘)"),
# is a verdict against it, as models mark what they rule out; a tick ("UP ✅", "UP ✓") is none. Past a
# sentence end (. ! ?) only where it ends its line or a bracket gives its reason ("UP. ❌", "UP. ❌ (wall)"):
# in "Go UP. ❌ Never toward the wall." it opens the next item.
_CROSS = "[❌✗✘✖]"
_CROSSED = (r"(?:(?![.!?])" + _SEP + r"|(?<![.!?])[ \t]{0,3})" + _EM + _CROSS
            + r"|[.!?]\s{0,3}" + _EM + _CROSS + r"\ufe0f?" + _EM + r"[ \t]{0,3}(?:\n|$|[(\[])")
_POINTER_VERB = "(?:is|was|would|will|won|should|must)"
# "which" needs no mark before it ("UP which is wrong"); "that" does: "so that is", "the move that is". A dash
# before is (was, would, will, ...) stands for "that": "UP - is fatal" as "UP - that is fatal"; an em dash
# needs no space after it ("UP—is fatal"), and _POINTER_SP reads none there.
_POINTER = (r"(?:" + _SEP + r"(?:which|that|this)|\s{1,3}which|\s{1,3}-(?=\s{1,3}" + _POINTER_VERB + r")"
            r"|\s{0,3}(?:—|-{2,3})(?=\s{0,3}" + _POINTER_VERB + "))")
_POINTER_SP = r"(?:\s{1,3}|(?<=[—-]))"
# 'd, 'll and 's going to (gonna) are would, will and is going to, after a pointer or on the answer's word
# ("UP'll crash", "UP's gonna be fatal"; never the possessive 's: "UP's path").
_CONTRACTED = r"['’](?:d|ll|s" + _SP + _GOING + ")"
# The answer's word with such a contraction on it, never a pronoun's ("No it'll crash" is no).
_CONTRACTING = r"(?!" + _PRONOUN + r"['’])" + _WORD_BEFORE
# "UP'll be", and "UP'll not be" ("UP'd not be a good move") as "would not be" is.
_CONTRACTED_IS = _CONTRACTED + _SP + "be"
_CONTRACTED_IS_NOT = _CONTRACTED + _NOT + _SP + "be"
_POINTER_IS = _POINTER + r"(?:" + _POINTER_SP + _IS + r"|['’]s|" + _CONTRACTED_IS + ")"
_POINTER_IS_NOT = (_POINTER + r"(?:" + _POINTER_SP + _IS_NOT + r"|['’]s" + _NOT + "|" + _CONTRACTED_IS_NOT
                   + ")")
# The verdicts are closed word lists. A noun after one says what it is about: the move ("a bad move", "the
# wrong direction") or the answer ("a bad answer", "not a valid option"); a bare verdict word before a move
# noun ("DOWN is wrong move", "UP: invalid move") is one on the move.
# A verdict on the answer: it is not right ("is not" with _RIGHT) or it is false ("is" with _FALSE). It
# takes the answer back in every answer, a Snake worst answer too, where "DOWN is incorrect" may say that
# DOWN is no fatal move as "DOWN is not correct" may: read as the move named, it could credit a move the
# reply took back.
_MOVE_NOUN = _SP + "(?:move|idea|choice|direction)" + _END
# Between a verb and its verdict: "UP is **wrong**", "UP is** wrong**", "UP - __wrong__", "UP is very bad".
_AT = _SP_ADVERB + _SP
_ANSWER_NOUN = _SP + "(?:answer|option)" + _END
# An adjective before answer/option needs no article, as a bare verdict word needs none: "DOWN is bad answer"
# takes DOWN back in a worst answer as "DOWN is wrong answer" does.
_RIGHT = (r"(?:(?:correct|right|true|valid)" + _END + "(?!" + _MOVE_NOUN + r")|"
          r"(?:(?:an?" + _SP + ")?(?:good|valid|correct)|(?:the|my)(?:" + _SP + "(?:correct|right|final))?)"
          + _ANSWER_NOUN + ")")
_FALSE = (r"(?:(?:wrong|incorrect|false|invalid)" + _END + "(?!" + _MOVE_NOUN + r")|"
          r"(?:(?:an?|the)" + _SP + ")?(?:bad|wrong|incorrect|invalid)" + _ANSWER_NOUN + "|no" + _SP + "good"
          + _ANSWER_NOUN + ")")
# A verdict alone after a punctuation mark, dash or opening bracket ("UP - wrong", "UP: wrong", "UP (fatal)")
# where it ends its clause, or goes on with because, since or as: "UP - wrong moves hit walls" is none. An
# "as" that concedes the verdict ("UP, wrong as it may seem", "UP (dangerous as it looks)") keeps the answer,
# as a question mark does: a verdict asked is not said ("UP. Dangerous? Not really"). Emphasis around the
# verdict is read past ("UP - **wrong**", "UP - __wrong__"), so it is no clause end: "UP - **bad** moves hit
# walls" is UP.
_CLAUSE_END = (r"(?=\s{0,3}(?:[^\w\s?*]|$)|\s{1,3}(?:because|since|as(?!\s{1,3}(?:it|that|this)\s{1,3}"
               r"(?:may|might|could|seems?|looks?|sounds?|appears?)\b))\b)")
# Every alternative's subject is a _WORD_BEFORE, so _WORD_START is tested first (as in ``_rejected``): the
# lookaheads before the subject then run only where one can start, not at every character (same matches).
_DENIED = re.compile(_WORD_START + "(?:"
                     + _SUBJECT + r"(?=" + _IS_NOT + _AT + _RIGHT + "|" + _IS + _AT + _FALSE + r")|"
                     + _CONTRACTING + r"(?=" + _CONTRACTED_IS + _AT + _FALSE + "|" + _CONTRACTED_IS_NOT + _AT
                     + _RIGHT + ")|" + _POINTED
                     + r"(?=" + _POINTER_IS_NOT + _AT + _RIGHT + "|" + _POINTER_IS + _AT + _FALSE + "|"
                     + _MARKED + r"(?:not" + _SP + _RIGHT + "|" + _FALSE + ")" + _EM + _CLAUSE_END + "))",
                     re.IGNORECASE)
# The same for a verdict that the move is bad ("UP is not safe", "Moving UP would be a mistake", "UP, which
# is fatal", "UP is the wrong direction", "UP is illegal"): read as any other words, the answer rejected was
# credited. Not in a worst answer, which asks for the bad moves ("DOWN is fatal" names DOWN there); "UP is not
# fatal" keeps UP. Every bare word of _FALSE and _RIGHT is here before a move noun, so such a verdict is
# always one on the move ("DOWN is wrong move" names DOWN in a worst answer, as "the wrong move" does).
# Death, certain, instant or immediate too ("UP is certain death", "UP leads to instant death").
_DEATH = r"(?:(?:certain|instant|immediate)" + _SP + ")?death"
# The other snake (Duel Snake's blue, the opponent, ...; not "other" alone: "for other reasons").
_OTHER_SNAKE = (r"(?:(?:the|our|your|its|my)" + _SP + ")?(?:blue|opponent|enemy|rival|other" + _SP
                + "(?:snake|one|player))" + _END)
# Named as a subject: "blue", "the blue snake", "the opponent's snake", "the other player's snake", "the blue
# player's snake".
_OTHER_NAMED = _OTHER_SNAKE + "(?:(?:['’]s)?" + _SP + "(?:snake|player(?:['’]s" + _SP + "snake)?))?"
# An ending said to be a win: past a mark or because (since, as), the other snake's death or a win (ours,
# a solved puzzle) ending its clause: "UP ends the game (blue dies)", "UP → game over (solved!)". Read as a
# loss, Duel Snake's move that kills blue and Sokoban's last push scored 0. A closed list, and nothing may
# follow it: "(blue wins)", "(blue dies too)", "(solved?)" leave the ending a loss.
# Our snake's death said after such an end, in its bracket or sentence ("(blue dead, us too)", "blue dies,
# but so do we", "(blue will crash, as will we)"): both snakes die, no win. Our win or survival is none.
_OURS = r"\b(?:we|us|i|me|ours|both|green|(?:our|my)(?:\s{1,3}(?:green\s{1,3})?snake)?)"
_OURS_TOO = (r"[^.!?\n)\]]{0,40}?(?:" + _OURS
             + r"(?:\s{1,3}(?:would|will|also|then|do|does|did|are|is|am|get|gets|got|snakes?)){0,2}\s{1,3}"
             r"(?:die|dies|died|dead|dying|crash|crashes|crashed|lose|loses|lost|killed|too|as\s{1,3}well)\b"
             r"|\b(?:so|as|nor)\s{1,3}(?:do|does|did|would|will|is|are|am|must)\s{1,3}(?:we|i|our|my|green)\b"
             r"|\band\s{1,3}(?:us|we|me|ours)\s{0,3}(?:[^\w\s]|$))")
_WON = (r"(?:" + _OTHER_NAMED + _SP + "(?:dies|died|crashes|loses|has" + _SP + "died|(?:would|will)" + _SP
        + "(?:die|crash|lose)|(?:(?:is|gets|got)" + _SP
        + ")?(?:dead|dying|crashing|trapped|killed|eliminated))"
        + "|(?:we|you|i|green|(?:the|our)" + _SP + "(?:green" + _SP + ")?snake)" + _SP + "(?:win|wins|won)"
        + "|(?:(?:an?|our|my)" + _SP + ")?(?:win|victory)"
        + "|(?:(?:the" + _SP + ")?(?:puzzle|level)" + _SP + "(?:is" + _SP + ")?)?solved"
        + "|(?:the" + _SP + ")?(?:puzzle|level)" + _SP + "(?:is" + _SP + ")?(?:complete|completed|cleared))"
        + _END + _EM + r"(?=\s{0,3}(?:[^\w\s?*]|$))(?!" + _OURS_TOO + ")")
_NOT_WON = (r"(?!" + _EM + r"(?:\s{0,3}(?:[,;:.!(\[]|—|-{1,3}>?|=>|→|⇒|=)\s{0,3}|\s{1,3}(?:because|since|as)"
            r"\s{1,3})" + _EM + _WON + ")")
# "game over" (game-over) says death as "death" does: "UP is game over", "UP means game over"; not where a
# win is said after it (_NOT_WON).
_GAME_OVER = r"game(?:" + _SP + "|-)over" + _END + _NOT_WON
# A verdict's word joined to a word by a hyphen is that word's part, no verdict: "UP is death-free", "UP
# causes a crash-free path", "UP means a **crash**-free path" are UP.
_UNJOINED = r"(?!" + _EM + r"-[^\W\d_])"
_GAME_ENDING = r"game(?:-|" + _SP + ")ending"
# A verdict said for (to, by) the other snake is none on the move: in Duel Snake a move "lethal for blue" or
# "a disaster for the opponent" kills the other snake, a good move ("UP would kill the other snake" keeps UP).
# "other" alone is no snake: "UP is a mistake for other reasons".
_FOR_OTHER = r"(?!" + _SP + "(?:for|to|by)" + _SP + _OTHER_SNAKE + ")"
# The one-word verdicts on the move, bad (_BAD's) and good (_NOT_GOOD's).
_BAD_WORDS = (r"unsafe|fatal|deadly|lethal|dangerous|illegal|risky|bad|suicidal|terrible|impossible|poor|"
              r"disastrous|catastrophic|" + _GAME_ENDING + "|unwise|inadvisable|blocked|killed|suicide")
_GOOD_WORDS = r"safe|good|legal|allowed|possible|viable|recommended|advisable|wise"
_BAD = (r"(?:(?:" + _BAD_WORDS + "|(?:(?:best|better)" + _SP + ")?avoided|out" + _SP + "of" + _SP
        + "(?:the" + _SP + "question|bounds))" + _END
        # the move (one, direction, choice) to avoid, where that ends its clause: "the move to avoid the wall"
        + r"|(?:(?:the|a)" + _SP + ")?(?:move|one|direction|choice)" + _SP + "to" + _SP + "avoid" + _EM
        + _CLAUSE_END
        # "death" (a verdict as "suicide" is) or "game over", not joined to a word by a hyphen: "UP is
        # death-free" is UP.
        + "|(?:" + _DEATH + "|" + _GAME_OVER + ")" + _END + _UNJOINED
        + r"|an?" + _SP + "(?:(?:fatal|deadly|big|huge|terrible|grave|serious|costly)" + _SP
        + ")?(?:mistake|error|disaster|catastrophe)" + _END
        # "a dead end" (dead-end), a (death) trap, a death sentence or a no-go, with a, the or no article, not
        # joined to a word by a hyphen: "UP, a dead end as it may seem" concedes it, "UP is trap-free" is UP.
        + r"|(?:(?:an?|the)" + _SP + ")?(?:dead(?:" + _SP + "|-)end|(?:death(?:" + _SP + "|-))?trap|death(?:"
        + _SP + "|-)sentence|no(?:" + _SP + "|-)go)" + _END + _UNJOINED + r"|(?:(?:an?|the)" + _SP + ")?"
        + _ADVERB_SP + r"(?:bad|wrong|incorrect|"
        r"false|invalid|illegal|unsafe|fatal|deadly|lethal|dangerous|risky|suicidal|suicide|terrible|losing|"
        r"impossible|poor|unwise|disastrous|catastrophic|" + _GAME_ENDING + "|worst|blocked)" + _MOVE_NOUN
        # "no good" where it ends its clause or before a move noun: "UP is no good reason to stop" is UP.
        + "|no" + _SP + "good(?:" + _MOVE_NOUN + "|" + _EM + _CLAUSE_END + "))" + _FOR_OTHER)
# "not an option" (a viable option) is said of a move: "UP is not an option" as "UP is not allowed".
_NOT_GOOD = (r"(?:(?:" + _GOOD_WORDS + ")" + _END
             + r"|(?:(?:an?|the)" + _SP + ")?(?:good|safe|valid|legal|right|correct|true|allowed|possible|"
             r"viable)" + _MOVE_NOUN
             + r"|(?:an" + _SP + "|(?:an?" + _SP + ")?viable" + _SP + ")option" + _END + ")")


# Death or a crash said avoided after a verb of consequence is the subject of a clause that says it does not
# come, no fatal object: "UP means death is avoided", "UP means death's averted", "UP causes the crash to be
# prevented" (a closed list).
_AVOIDED = (r"(?!(?:['’]s|" + _SP + "(?:is|was|gets|being|(?:will|would|to)" + _SP + "be))" + _SP
            + "(?:avoided|averted|prevented|escaped)" + _END + ")")


# A crash or collision without an article ("UP leads to crash", "results in collision with its body") where it
# ends its clause or goes on with "with" or "into": before another word it may be a compound's first part, "UP
# leads to collision avoidance".
_BARE_CRASH = (r"(?:crash|collision)(?=" + _EM + _CLAUSE_END + "|" + _SP + r"(?:with|into)\b)")


# An adverb of speed or the one who loses may close a clause that ends or loses the game: "UP would lose
# immediately", "UP would end the game for us". The clause must still end there: "UP ends the game
# immediately with a win" is UP.
_AT_ONCE = (r"(?:" + _SP + "(?:immediately|instantly|at" + _SP + "once|outright|for" + _SP
            + "(?:(?:the|our|my|your)" + _SP + "snake|us|me|you|it))" + _END + ")?")


# The board's edge (border, boundary) row, column, cell or lane is cells inside the board, no wall: "UP moves
# into the edge column" is UP, where "UP runs into the wall cell" is none.
_EDGE_CELLS = (r"(?:(?<=wall)|(?!" + _SP + "(?:rows?|columns?|cells?|lanes?|tiles?|squares?|lines?)" + _END
               + "))")


def _fatal(crash: str, kill: str, hit: str, lead: str, get: str, end: str, lose: str, make: str) -> str:
    """The fatal verbs and their objects, the verbs in the form given ("crash|die|collide|go out of bounds",
    "kill", "hit|bite|eat|run into", "lead to|result in|cause|mean", "get", "end", "lose", "cause|make")."""
    own = r"(?:(?:the|our|my|your)" + _SP + r")?(?:snake|itself|us|me|you|it)" + _END  # the player's snake
    owners = r"(?:(?:(?:the|our|my|your)" + _SP + r")?snake['’]s|our|its|my|your)" + _SP  # "its death"
    return (r"(?:(?:" + crash + ")" + _END + "|(?:" + get + ")(?:" + _SP + own + ")?" + _SP + "killed" + _END
            + "|(?:" + make + ")" + _SP + own + _SP + "(?:to" + _SP + ")?(?:crash|die|collide)" + _END
            # the snake dying, (its) (certain) death, (a) game over, an (immediate) crash, a bare crash, a
            # loss ending its clause
            + "|(?:" + lead + ")" + _SP + "(?:" + own + _SP + "(?:dying|crashing|colliding)|(?:" + owners
            + ")?" + _DEATH + "|(?:a" + _SP + ")?" + _GAME_OVER + "|(?:an?|the)"
            + _SP + "(?:(?:certain|instant|immediate)" + _SP + ")?(?:crash|collision)|" + _BARE_CRASH
            + "|(?:a|the)" + _SP + "loss(?=" + _EM + _CLAUSE_END + "))" + _END + _UNJOINED + _AVOIDED
            + _FOR_OTHER
            + "|(?:" + kill + ")" + _SP + own
            + "|(?:" + hit + ")" + _SP + "(?:(?:(?:the|a)" + _SP + ")?(?:wall|boundary|border|edge)" + _END
            + _UNJOINED + _EDGE_CELLS + "|itself|its" + _SP + "(?:own" + _SP + ")?(?:body|tail))" + _END
            # Ending or losing the game where that ends its clause: "UP ends the game with a win" is UP, as
            # is an ending said to be a win (_NOT_WON: "UP ends the game (blue dies)").
            + "|(?:(?:" + end + ")" + _SP + "the" + _SP + "game" + _AT_ONCE + _EM + _CLAUSE_END + _NOT_WON
            + "|(?:" + lose + ")(?:" + _SP + "the" + _SP + "game)?" + _AT_ONCE + _EM + _CLAUSE_END + "))")


# A fatal verb right after would or will ('d, 'll after a pointer) is a verdict on the move too: crash, die,
# collide, go out of bounds; kill with the player's own snake (the, our, my or your snake, itself, us, me,
# you, it), or cause or make it (to) crash, die or collide; hit, bite, eat or run (go, move, head, lead,
# steer; straight, directly: _INTO) into with a wall (boundary, border, edge; no article too), itself or its
# (own) body or tail; the snake dying (crashing, colliding) or its (our, the snake's) death after lead to and
# the rest; lead to, result in, cause or mean (certain, instant, immediate) death, (a) game over, an
# (immediate) crash or collision (bare: _BARE_CRASH) or a loss ending its clause ("a loss of time" is none),
# neither hyphened to a word (_UNJOINED) nor said avoided (_AVOIDED); get (the snake, us, ...) killed, the
# passive as "would be killed" is (no other participle: "UP gets the apple"); end the game, lose or lose the
# game where that ends its clause, maybe past _AT_ONCE ("UP would lose immediately"; "UP would end the game
# with a win" is UP). "is going to" ("is gonna") reads as would or will ("UP is going to crash"). A closed
# list: "UP would hit the apple", "UP would kill the other snake" (duel Snake's good move), "UP could crash"
# (a risk, not said to happen) and "UP won't crash" keep UP. The present tense right after the word or pointer
# is one too: "UP kills the snake", "UP, which crashes"; so is the past "got killed" ("UP got killed").
_OUT = _SP + "out" + _SP + "of" + _SP + "bounds"  # "UP would go out of bounds", "UP is out of bounds"
_INTO = "(?:" + _SP + "(?:straight|directly))?" + _SP + "into"  # "UP goes straight into the wall"
_FATAL = _fatal("crash|die|collide|go" + _OUT, "kill", "hit|bite|eat|(?:run|go|move|head|lead|steer)" + _INTO,
                "lead" + _SP + "to|result" + _SP + "in|cause|mean", "get", "end", "lose", "cause|make")
_FATAL_NOW = _fatal("crashes|dies|collides|goes" + _OUT, "kills",
                    "hits|bites|eats|(?:runs|goes|moves|heads|leads|steers)" + _INTO,
                    "leads" + _SP + "to|results" + _SP + "in|causes|means", "gets|got", "ends", "loses",
                    "causes|makes")
# "UP is not going to crash" keeps UP, as "UP won't crash" does; "gonna" is "going to" ("UP is gonna crash").
# An adverb (_ADVERB, in _AT) between them says the same: "UP would definitely crash".
_WILL = r"(?:would|will|is" + _SP + _GOING + ")"
_POINTER_WILL = _POINTER + r"(?:" + _POINTER_SP + _WILL + "|" + _CONTRACTED + ")"
# A fatal outcome alone past a mark ("UP → dies", "UP - hits the wall", "UP: crash", "UP → death", "UP (game
# over)") is a verdict only where the answer is a move (_REJECTED_MOVE): after an option letter, a number or a
# cell it is what the answer says happens ("B → dies", "D → game over" name Duel Snake's outcomes "Only your
# snake has died", "Both snakes have died"; ``_affirmed``).
_DEATH_ALONE = "(?:" + _DEATH + "|" + _GAME_OVER + ")" + _END


# The subject of a verdict on the move holds a letter or digit (a lone mark, the arrow of "No → dies", is
# none) and is no "no" set off by a mark: a fatal outcome after it ("No. Dies", "No: dies", "No - crashes into
# wall") is why the answer is no (Snake's "Is it still alive?"). Taken back, the arrow left "No dies", no as
# the determiner, and "No." was the subject of "Dies". "Yes. Dies" contradicts itself: its yes stays taken
# back.
_VERDICT_SUBJECT = (r"(?=[^\s(\[]{0,40}?[^\W_]|[(\[])(?![*_]{0,3}(?:no|nope|nah)[*_]{0,3}[,;:.!?])"
                    + _SUBJECT)


# "risky" (a risky move) said of a Duel Snake move (``_rejected``'s ``risky``): where the record says no move
# is safe the best move is a risky one, as the analysis calls it, so "UP (risky, no move is safe)" is UP.
_RISKY = "(?:(?:an?|the)" + _SP + ")?" + _ADVERB_SP + "risky" + _END
# A verdict joined to it is still one: "UP is risky and fatal", "UP (risky, fatal)", "UP is risky or deadly".
_RISKY_AND = _RISKY + r"(?:\s{0,3}[,;]\s{0,3}|" + _SP + ")(?:(?:and|or)" + _SP + ")?"


# One-word verdicts joined by "and" or "or" (a comma before it too) are said of the same subject, so a verdict
# after them is one on the move: "UP is safe and fatal", "UP, which is safe or deadly", "UP, risky and
# dangerous", "UP (fatal and risky)", "UP: not safe and fatal" are none; "UP is safe and good", "UP: not risky
# and not fatal", "UP is not risky or fatal" (a negation opens no chain) and "UP is safe, and DOWN is fatal"
# (no verdict after "and": DOWN's own) keep UP. Past a mark the verdict and the ones joined after it
# (_JOINED_AFTER) must still end their clause; after "is" the verdict joined must end its clause or go on with
# a preposition or link (_JOIN_END: "UP is safe and fatal for us"), as before any other word it may be a new
# clause's ("UP is safe and death is avoided", "UP is safe and bad moves hit walls" keep UP).
_VERDICT_WORD = "(?:" + _BAD_WORDS + "|" + _GOOD_WORDS + ")" + _END
_JOINT = r"(?:\s{0,3}[,;])?" + _SP + "(?:and|or|but)" + _AT  # "UP is safe but fatal" too
_JOINED = "(?:" + _VERDICT_WORD + _JOINT + ")+"
_JOINED_AFTER = "(?:" + _JOINT + "(?:not" + _SP + ")?" + _VERDICT_WORD + ")*"
_JOIN_END = "(?=" + _EM + _CLAUSE_END + "|" + _SP + r"(?:for|to|in|on|at|here|now|there|and|or|but|so)\b)"


# A verb in the present after the answer's word, up to five words more and "and" or "but" (maybe after a
# comma) before "is" (is not) and its verdict say it of the same subject: "UP avoids the wall and is fatal"
# ("UP avoids the wall, but is fatal") as "UP is fatal"; "UP avoids the wall and is safe" is UP. Not a
# conjunction ending in s, whose clause has a subject of its own: "UP, as the alternative hits the wall and
# is fatal" is UP.
_DOES_AND = (r"(?:(?!(?:as|whereas|unless|plus|besides|thus)\b)[^\W\d_]{1,20}s(?:\s{1,3}[^\W\d_]{1,20}){0,5}"
             r"(?:\s{0,3},)?\s{1,3}(?:and|but)\s{1,3})?")


def _rejected(move: bool, risky: bool = True) -> re.Pattern[str]:
    """The verdicts on the move (above); alone after a mark, fatal outcomes only where the answer is a
    ``move``; "risky" only where ``risky`` is one (``_RISKY``; else a verdict joined to it still is)."""
    bad = _BAD if risky else "(?:" + _RISKY_AND + ")?(?!" + _RISKY + ")" + _BAD
    alone = bad if move else "(?!" + _DEATH_ALONE + ")" + bad
    outcome = "|" + _MARKED + "(?:" + _FATAL_NOW + "|" + _BARE_CRASH + _UNJOINED + ")" if move else ""
    bad = "(?:" + _JOINED + bad + _JOIN_END + "|" + bad + ")"  # "UP is safe and fatal"
    return re.compile(_WORD_START + "(?:"
                      + _VERDICT_SUBJECT + r"(?=" + _DOES_AND + "(?:" + _IS + _AT + bad + "|" + _IS_NOT + _AT
                      + _NOT_GOOD + ")|" + _WILL + _AT + _FATAL + "|" + _EM + _ADVERB_SP + _FATAL_NOW + r")|"
                      + _CONTRACTING + r"(?="
                      + _CONTRACTED_IS + _AT + bad + "|" + _CONTRACTED_IS_NOT + _AT + _NOT_GOOD + "|"
                      + _CONTRACTED + _AT + _FATAL + ")|"
                      + _POINTED
                      + r"(?=" + _POINTER_IS + _AT + bad + "|" + _POINTER_IS_NOT + _AT + _NOT_GOOD + "|"
                      + _POINTER_WILL + _AT + _FATAL + "|" + _POINTER + _AT + _FATAL_NOW + "|" + _MARKED
                      + "(?:" + _JOINED + r")?(?:not" + _SP + _NOT_GOOD + "|" + alone + ")" + _JOINED_AFTER
                      + _EM + _CLAUSE_END + outcome + "|" + _CROSSED + "))", re.IGNORECASE)


# "it" is the other snake in the sentence right after one whose subject is that snake ("Blue is next to our
# head. UP would make it crash into our body", "The opponent is trapped. UP causes it to die"): read as ours,
# as the fatal verbs' objects read it, Duel Snake's move that kills blue was taken back (``_other_it``).
# Sentences end at ., ! or ? before a space, or at a line end; the subject opens its sentence, a word after it
# ("Blue's head is ..." names a head, "Blue, ..." no subject).
_SENTENCE_END = re.compile(r"((?<=[.!?])[ \t]{1,3}|\n)")
_OTHER_SUBJECT = re.compile(r"\s{0,3}" + _EM + _OTHER_NAMED + _EM + r"\s{1,3}[a-z]", re.IGNORECASE)
_IT = re.compile(r"\bit\b(?!['’])", re.IGNORECASE)


def _other_it(text: str) -> str:
    """``text`` with "it" as "blue" (the other snake) in each sentence right after one that opens with the
    other snake as its subject (``_OTHER_SUBJECT``); "its" is left, whose body our head may hit."""
    parts = _SENTENCE_END.split(text)  # sentences at even indices, their separators between
    for k in range(2, len(parts), 2):
        if _OTHER_SUBJECT.match(parts[k - 2]):
            parts[k] = _IT.sub("blue", parts[k])
    return "".join(parts)


_REJECTED = _rejected(False)
_REJECTED_MOVE = _rejected(True)
_REJECTED_RISKY_MOVE = _rejected(True, risky=False)  # a best move where no move is safe
_NAMES_LETTER = re.compile(r"\b(?:option|choice|answer|letter|is|be|pick|choose|chose|select)\W*$",
                           re.IGNORECASE)


# --------------------------------------------------------------------------------------------- parsing
def _as_text(response: Any) -> str | None:
    """The response as str, or None when it cannot be scored (not text, not UTF-8, too long)."""
    if isinstance(response, (bytes, bytearray, memoryview)):
        if len(response) > 4 * MAX_RESPONSE_CHARS:
            return None
        try:
            response = bytes(response).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(response, str) or len(response) > MAX_RESPONSE_CHARS:
        return None
    try:
        response.encode("utf-8")  # lone surrogates: bytes smuggled in through surrogateescape
    except UnicodeEncodeError:
        return None
    return response


def _normalise_tags(text: str) -> str:
    return _TAG_SPACES.sub(lambda m: f"<{m.group(1)}{m.group(2).lower()}>", text)


@dataclass
class Parsed:
    """A response, its tags and minus signs normalised (``parse``), and the region its answers are read in."""

    text: str
    region: str  # where answers are read: after the last </think>, or all of it without a think block

    def tag(self, name: str) -> str | None:
        """The content of the one ``<name>`` tag in the answer region; None if absent or repeated."""
        return _single_tag(self.region, name)

    def format_ok(self, tags: tuple[str, ...]) -> bool:
        t = self.text
        if t.count("</think>") != 1 or t.count("<think>") > 1:
            return False
        close = t.find("</think>")
        if "<think>" in t:
            start = t.find("<think>")
            if t[:start].strip() or start > close:
                return False
            thought = t[start + 7:close]
        else:
            thought = t[:close]  # the chat template opened the think block in the prompt
        if not thought.strip():
            return False
        rest = t[close + 8:]
        for name in tags:
            if t.count(f"<{name}>") != 1 or t.count(f"</{name}>") != 1 or _single_tag(rest, name) is None:
                return False
        return True


def _single_tag(text: str, name: str) -> str | None:
    open_, close = f"<{name}>", f"</{name}>"
    if text.count(open_) != 1 or text.count(close) != 1:
        return None
    start, end = text.find(open_) + len(open_), text.find(close)
    return text[start:end] if start <= end else None


def parse(text: str) -> Parsed:
    # The minus sign U+2212 as "-": Rotation's prompt writes turns and angles with it ("X−", "−90°"), so
    # replies do too; unread, "X−" named no turn and "−90" read as 90. The en dash, typeset text's stand-in
    # for a minus ("X–"), likewise.
    text = _normalise_tags(text).replace("\u2212", "-").replace("\u2013", "-")
    if "</think>" in text:
        region = text[text.rfind("</think>") + 8:]
    elif "<think>" in text:
        region = ""  # never closed: everything is still reasoning
    else:
        region = text
    return Parsed(text, region)


def _boxed(text: str) -> str | None:
    """The content of the single ``\\boxed{...}`` in ``text`` (braces balanced), else None."""
    if text.count("\\boxed{") != 1:
        return None
    start = text.find("\\boxed{") + 7
    depth = 1
    for k in range(start, len(text)):
        ch = text[k]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start:k]
    return None


def _answer_content(p: Parsed) -> str | None:
    """The answer text: the ``<answer>`` tag's content (a single ``\\boxed{}`` inside unwrapped), else a
    single ``\\boxed{}``, else a short tag-free bare reply; None when there is none or it is ambiguous."""
    region = p.region
    if p.text.count("<answer>") > 1 or p.text.count("</answer>") > 1:
        return None  # several answers, one maybe hidden in the reasoning: no credit
    if "<answer>" in region or "</answer>" in region:
        content = p.tag("answer")
        if content is None:
            return None
        inner = _boxed(content)
        content = content if inner is None else inner
    elif "\\boxed{" in region:
        content = _boxed(region)
    elif "<" not in region and len(region.strip()) <= _BARE_CHARS:
        content = region
    else:
        return None
    if content is None or len(content) > MAX_ANSWER_CHARS:
        return None
    return content.strip()


def _strip_wrapping(text: str) -> str:
    return text.strip().strip("*_`'\"").strip().rstrip(".").strip().strip("()[]{}").strip()


def _normalised(text: str) -> str:
    """``text`` to compare with an expected one: unwrapped, whitespace runs as one space, casefolded."""
    return " ".join(_strip_wrapping(text).split()).casefold()


# Memoised: a trainer scores many samples of one prompt, and their answers repeat ("UP", "**B**"); the
# verdict patterns are the costliest step of a call, and the result depends on the arguments alone.
@functools.lru_cache(maxsize=4096)
def _affirmed(text: str, asks_bad: bool = False, move: bool = False, risky: bool = True) -> str:
    """``text`` without what its negations take back (``_NEGATION``, ``_DENIED``, and ``_REJECTED`` unless
    the question ``asks_bad``, ``_REJECTED_MOVE`` where the answer is a ``move``, without "risky" unless
    ``risky`` is a verdict): a reply names an answer only where this reads the same answer from it as
    ``text`` does."""
    if not asks_bad:
        rejected = (_REJECTED_MOVE if risky else _REJECTED_RISKY_MOVE) if move else _REJECTED
        text = rejected.sub(" ", _other_it(text) if move else text)
    return _NEGATION.sub(" ", _DENIED.sub(" ", text))


def _without_wall_sides(text: str) -> str:
    """``text`` without the directions that say where a wall is (``_WALL_SIDE``). Most answers name no wall:
    a test for the names (_WALL_NAMES), far quicker than the pattern, skips it there."""
    lower = text.lower()  # no character but the names' own letters and capitals matches them ignoring case
    return _WALL_SIDE.sub(r"\1", text) if any(name in lower for name in _WALL_NAMES) else text


def _words(text: str, signed: bool) -> list[str]:
    return (_SIGNED_WORDS if signed else _WORDS).findall(text.lower())


def _one_choice(text: str, choices: list[str], risky: bool = True) -> str | None:
    """The single distinct choice word named in ``text`` (canonical spelling), else None; a negated one
    ("Not UP", "UP is risky" while ``risky`` is a verdict) is none (``_affirmed``). A one-letter choice
    that is also a word (Pokémon's button a) counts only where it stands as an answer (``_named_letters``):
    the article in "Walk up a bit" is no button a; button b counts as any word. The word start counts only
    as the button (``_VERB_START``): the verb in "Start by going up" is none."""
    named = _choice_named(text, choices)
    return named if named == _choice_named(_affirmed(text, move=True, risky=risky), choices) else None


def _choice_named(text: str, choices: list[str]) -> str | None:
    canon = {c.lower(): c for c in choices}
    signed = any(c[-1] in "+-" for c in canon)
    letters = {c for c in canon if c in _WORD_LETTERS}
    if "start" in canon:
        text = _START.sub(lambda m: m.group() if _start_button(text, m) else " ", text)
    if "no" in canon:
        text = _DETERMINER_NO.sub(" ", text)
    text = _without_wall_sides(text)
    words = _words(text, signed)
    if "yes" in canon and "no" in canon:
        words = [_SPOKEN_YES_NO.get(w, w) for w in words]
    found = {canon[w] for w in words if w in canon and w not in letters}
    if letters:
        found |= {canon[c] for c in _named_letters(text) & letters}
    return found.pop() if len(found) == 1 else None


def _start_button(text: str, m: re.Match[str]) -> bool:
    """Whether the word start at ``m`` names the button (``_VERB_START``); the window before is bounded."""
    return bool(_PRESSES_START.search(text[max(m.start() - 20, 0):m.start()])
                or not _VERB_START.match(text, m.end()))


def _named_letters(text: str) -> set[str]:
    """The letters (lowercase) that ``text`` names as answers: the whole answer ("a", "**B**"), a capital
    standing alone ("Press A", "the B button"; not the article opening "A bit further up"), or a
    lowercase letter where only a button can stand (``_LOWER_BUTTON``: "press a", "(b)")."""
    bare = _strip_wrapping(text)
    if len(bare) == 1:
        return {bare.lower()} if bare.isalpha() else set()
    articles = {m.start(1) for m in _ARTICLE_A.finditer(text)}
    named = {m.group(1).lower() for m in _LETTER.finditer(text) if m.start(1) not in articles}
    named.update(next(g for g in m.groups() if g) for m in _LOWER_BUTTON.finditer(text))
    return named


def _numbers(text: str) -> list[int | float]:
    """The numbers written in ``text``: a decimal with a zero fraction as its integer ("3.0" is 3), any
    other as a float, which equals no integer ("3.5" is no 3 and no 5)."""
    out: list[int | float] = []
    for v in _NUMBER.findall(text):
        whole, _, fraction = v.partition(".")
        out.append(float(v) if fraction.strip("0") else int(whole) if whole.strip("-") else 0)  # ".0" is 0
    return out


def _count_noun(word: str) -> bool:
    """Whether ``word`` is a plural noun that a count question asks about ("How many <noun>s?"): "No
    badges yet", "There are no boxes on targets", "No Pokémon yet" (a plural without an s) answer 0. Not a
    singular ("No idea", "No clue") or a word that only ends in s ("No less than 3", "no bonus", "no this"),
    nor one of knowing, replying or the reply's images ("No ideas", "No clues", "No images":
    ``_NO_COUNT_NOUNS``)."""
    noun = word.lower()
    return (len(noun) > 3 and noun.endswith("s") and not noun.endswith(("ss", "us", "is"))
            and noun not in _NO_COUNT_NOUNS) or noun in ("pokémon", "pokemon")  # the party's count


def _no_count(m: re.Match[str]) -> str:
    """"no" before a plural noun as "none", the count 0 (``_count_noun``), also with one word between that
    is no link, pronoun, article, comparative or number ("No gym badges"; ``_NO_ADJECTIVE_NOT``)."""
    first, second = m.group(1), m.group(2)
    if _count_noun(first):
        return "none"
    between = first.lower() not in _NO_ADJECTIVE_NOT and first.lower() not in _NUMBER_WORDS
    return "none" if second and between and _count_noun(second) else m.group()


def _not_any(text: str) -> str:
    """``text`` with "not any" (n't any) before a plural noun as "none", the count 0 (``_count_noun``):
    "There aren't any apples" is "There are none". Read before the negations, which would take it back."""
    return _NOT_ANY.sub(lambda m: " none" if _count_noun(m.group(1)) else m.group(), text)


def _noun_key(word: str) -> str:
    return word.casefold().replace("é", "e")  # "Pokemon" is "Pokémon"


def _about_noun(text: str, noun: str) -> str:
    """``text`` read for a count of ``noun`` (the spec's): where it says "no <noun>" (``_no_count``'s forms,
    "No gym badges") or "not any <noun>" (``_NOT_ANY``'s), that is "none", and a number right before another
    plural noun ("3 walls") is about that noun, not the count, so it is dropped; elsewhere ``text`` as is."""
    own = _noun_key(noun)

    def no(m: re.Match[str]) -> str:
        if _no_count(m) == m.group():
            return m.group()
        named = m.group(1) if _count_noun(m.group(1)) else m.group(2)
        return "none" if _noun_key(named) == own else m.group()

    said = _NO_WORD.sub(no, text)
    said = _NOT_ANY.sub(lambda m: " none" if _noun_key(m.group(1)) == own else m.group(), said)
    if said == text:
        return text
    return _OTHER_COUNT.sub(lambda m: " " if _count_noun(m.group(1)) and _noun_key(m.group(1)) != own
                            else m.group(), said)


def _integers(text: str, count: bool = True) -> list[int | float]:
    # "none" is the count 0 ("None yet": no badge), as "no" before a plural noun is ("No badges yet"), but
    # no id: "None" is no map 0 (``count`` false, where the none read below is left out).
    text = _NO_WORD.sub(_no_count, _NO_ONE.sub("none", text))
    # Number words count beside digits too: read only where no digit was, "5 or six" was the count 5. But
    # not "one", which beside digits is the pronoun ("5 boxes, one on each target"), as "I" is no option,
    # nor "none" beside any other number, digits or a word ("No walls, so five", "5 boxes, none on a
    # target"), unless "or" joins it to another number: "5 or one" and "one or 5" name two, as "5 or 6"
    # does; "one or more" is the pronoun still.
    numbers = _numbers(text)
    words = _words(text, False)
    other_word = any(w in _NUMBER_WORDS and w != "none" for w in words)
    return numbers + [_NUMBER_WORDS[w] for k, w in enumerate(words) if w in _NUMBER_WORDS
                      and not (w == "one" and numbers and not _or_number(words, k))
                      and not (w == "none" and (numbers or other_word) and not _or_number(words, k))
                      and (count or w != "none")]


def _or_number(words: list[str], k: int) -> bool:
    """Whether ``words[k]`` is joined by "or" to a number (digits or a number word) on either side."""
    for side in (-1, 1):
        other = k + 2 * side
        if 0 <= other < len(words) and words[k + side] == "or" and (
                words[other].isdigit() or words[other] in _NUMBER_WORDS):
            return True
    return False


def _pronoun_i(text: str, at: int) -> bool:
    """Whether the capital I at ``at`` reads as the pronoun (the window before it is bounded: linear time)."""
    return bool(_PRONOUN_I.match(text, at)) and not _NAMES_LETTER.search(text, max(at - 20, 0), at)


def _lettered_text(text: str, texts: list[str]) -> tuple[str, str] | None:
    """(letter, normalised text) when ``text`` is an option letter set before an option's text ("B. 3
    boxes", "Option B: 3 boxes", "(B) 3 boxes"), the text's option not necessarily the letter's; else None.
    ``texts``: the options, normalised."""
    lead = _LETTER_AND_TEXT.fullmatch(_strip_wrapping(text))
    if lead is None:
        return None
    named, after = lead.group(1).upper(), _normalised(lead.group(2))
    return (named, after) if ord(named) - 65 < len(texts) and after in texts else None


def _option_letter(text: str, options: list[str]) -> str | None:
    """The option letter an answer names: the option's own text, a lone letter, a letter before its own
    option's text (None before another's), or exactly one distinct valid letter: a capital standing alone
    ("B", "(B)", "Option B", "B. 3 boxes"; the pronoun in "I think it's B" or "I think so" is no option I),
    or a lowercase one where only a letter can stand ("option b", "answer: b", "(b)"; the article in "a
    box" is no option A)."""
    texts = [_normalised(option) for option in options]
    answer = _normalised(text)
    if answer in texts:
        return chr(65 + texts.index(answer))
    valid = {chr(65 + k) for k in range(len(options))}
    bare = _strip_wrapping(text)
    if len(bare) == 1 and bare.upper() in valid:
        return bare.upper()
    # The letter and an option's text: that text may hold a capital standing alone ("C. A box is in a
    # different place"), which the count below would read as a second letter.
    if lead := _lettered_text(text, texts):
        named, after = lead
        return named if after == texts[ord(named) - 65] else None
    found = _letters(text, valid)
    # A negated letter ("Not B", "B, not C") is none given (``_affirmed``).
    return found.pop() if len(found) == 1 and found == _letters(_affirmed(text), valid) else None


def _letters(text: str, valid: set[str]) -> set[str]:
    """The valid option letters ``text`` names (see ``_option_letter``)."""
    found = {m for m in _LETTER.findall(text) if m in valid}
    capitals_i = [m.start(1) for m in _LETTER.finditer(text) if m.group(1) == "I"]
    if "I" in found and all(_pronoun_i(text, at) for at in capitals_i):
        found.discard("I")  # every I is the pronoun: "I think so" names no option
    for m in _LOWER_LETTER.finditer(text):  # "option b", "answer: b", "(b)"
        letter = next(g for g in m.groups() if g).upper()
        if letter in valid:
            found.add(letter)
    return found


# ---------------------------------------------------------------------------------------------- rules
def _score_answer(content: str | None, spec: Mapping[str, Any]) -> bool:
    if content is None:
        return False
    rule = spec["rule"]
    if rule == "choice":
        return _option_letter(content, list(spec["options"])) == spec["answer"]
    if rule == "integer":
        # One distinct number: a reply restating its answer ("5, so the answer is 5") gives one answer,
        # where "5 or 6" gives two (5.0 and 5 are one: the decimal with a zero fraction is its integer).
        # A negated number ("Not 5") is none given.
        count = spec.get("count") is not False
        if count and spec.get("noun"):
            content = _about_noun(content, spec["noun"])
        content = _not_any(content) if count else content
        numbers = set(_integers(content, count))
        return numbers == {int(spec["value"])} and numbers == set(_integers(_affirmed(content), count))
    if rule == "coordinate":
        pair = _one_pair(_numbers(content))
        return pair == [int(v) for v in spec["value"]] and pair == _one_pair(_numbers(_affirmed(content)))
    if rule == "word":
        word = _one_choice(content, list(spec["choices"]))
        return word is not None and word in spec["accepted"]
    if rule == "rotation_angle":  # "Not 270 about Z" is no angle given
        return _rotation_ok(content, spec) and _rotation_ok(_affirmed(content), spec)
    if rule == "exact":  # a blank label (a trainer's missing label column) is matched by no reply
        expected = _normalised(str(spec["answer"]))
        return bool(expected) and _normalised(content) == expected
    raise ValueError(f"unknown verifier rule {rule!r}; known rules: {', '.join(RULES)}")


def _one_pair(numbers: list[int | float]) -> list[int | float] | None:
    """The one pair that ``numbers`` hold, written once or restated ("(3, 4), so (3, 4)"), else None."""
    if not numbers or len(numbers) % 2:
        return None
    pair = numbers[:2]
    return pair if all(numbers[k:k + 2] == pair for k in range(2, len(numbers), 2)) else None


def _rotation_ok(content: str, spec: Mapping[str, Any]) -> bool:
    options = list(spec.get("options") or [])
    # A letter before an option's text ("C. 180° about X") is read as the choice rule reads it: the angle
    # in the text alone would score a letter that names another option.
    if not any(ch.isdigit() for ch in content) or _lettered_text(content, [_normalised(o) for o in options]):
        return bool(options) and _option_letter(content, options) == spec.get("answer")
    numbers = list(set(_numbers(content)))  # the angle restated ("270 about Z, so 270") is one angle
    if len(numbers) != 1:
        return False
    # An axis written with a sign ("Z−" is −90° about z; "−z" the negative axis): "90 about Z−" and "90
    # about −Z" are −90° about Z. "Z-axis" and "Z+" keep the angle.
    signs = {m.group(1) or m.group(2) for m in _SIGNED_AXIS.finditer(content)}
    if len(signs) > 1:
        return False
    angle = -numbers[0] if signs == {"-"} else numbers[0]
    if angle % 360 != int(spec["angle"]) % 360:
        return False
    axes = {w for w in _words(content, False) if w in ("x", "y", "z")}
    if spec.get("axis_given"):
        return not axes or axes == {spec["axis"].lower()}
    return axes == {spec["axis"].lower()}


def _snake_moves(content: str | None, moves: list[str], worst: bool = False) -> set[str] | None:
    """The set of moves a ``<worst_answer>`` (``worst``) names; empty for "None" ("no", or nothing); None if
    both, if it names neither ("I don't know" is no answer) or if it negates a move ("DOWN, not UP")."""
    if content is None or len(content) > MAX_ANSWER_CHARS:
        return None
    named = _moves_named(content, moves)
    return named if named == _moves_named(_affirmed(content, worst, move=True), moves) else None


def _moves_named(content: str, moves: list[str]) -> set[str] | None:
    canon = {m.lower(): m for m in moves}
    words = _words(_without_wall_sides(content), False)
    named = {canon[w] for w in words if w in canon}
    if named:
        return None if "none" in words else named  # "None, UP" is both; "UP (no way out)" names UP
    says_none = "none" in words or ("no" in words and bool({"fatal", "move", "moves"} & set(words)))
    return named if not words or says_none else None  # "No fatal move" is None; "No idea" no answer


def _snake_ok(p: Parsed, spec: Mapping[str, Any]) -> bool:
    moves = list(spec["moves"])
    if any(p.text.count(f"<{t}>") > 1 for t in ("answer", "best_answer", "worst_answer")):
        return False  # one <answer> may wrap the two tags; two of them mean two answers
    best_text, worst_text = p.tag("best_answer"), p.tag("worst_answer")
    if best_text is None or worst_text is None or len(best_text) > MAX_ANSWER_CHARS:
        return False
    worst = _snake_moves(worst_text, moves, worst=True)
    if worst is None or worst != set(spec["fatal"]):
        return False
    good = list(spec["good"])
    if not good:  # "None", as the prompt asks, maybe with a reason as a move may have ("None (all fatal)")
        return _snake_moves(best_text, moves) == set()
    best = _one_choice(best_text, moves, risky=not _no_move_safe(spec))
    return best is not None and best in good and best not in worst


def _no_move_safe(spec: Mapping[str, Any]) -> bool:
    """Whether the record says no move is safe (Duel Snake's ``safe``, the moves that survive every opponent
    move, given and empty): its best move is a risky one, so "risky" said of it is no verdict against it.
    Without the key (Snake, exports before it) "risky" is one."""
    safe = spec.get("safe")
    return spec.get("rule") == "snake_best_worst" and safe is not None and len(safe) == 0


# ------------------------------------------------------------------------------------------ public API
def _is_int(value: Any) -> bool:
    if isinstance(value, float):  # int() would truncate 5.5 to 5 and raise OverflowError on infinity
        return value.is_integer()
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _is_texts(value: Any) -> bool:
    """A list of strings: the rules lower-case, strip and hash each item (a number was an AttributeError)."""
    return _is_list(value) and all(isinstance(v, str) for v in value)


def _is_words(value: Any) -> bool:
    """A list of non-empty strings: a choice's last character is read for a sign (an IndexError for "")."""
    return _is_texts(value) and all(value)


# rule -> (key, test, what the key must be): what ``verify`` reads from a spec of that rule.
_SPEC_KEYS: dict[str, tuple[tuple[str, Any, str], ...]] = {
    "choice": (("options", _is_texts, "a list of option texts"), ("answer", lambda v: isinstance(v, str),
                                                                  "an option letter")),
    "integer": (("value", _is_int, "an integer"),),
    "coordinate": (("value", lambda v: _is_list(v) and len(v) == 2 and all(map(_is_int, v)),
                    "a pair of integers [x, y]"),),
    "word": (("choices", _is_words, "a list of words"), ("accepted", _is_words, "a list of words")),
    "snake_best_worst": (("moves", _is_words, "a list of moves"), ("good", _is_words, "a list of moves"),
                         ("fatal", _is_words, "a list of moves")),
    "rotation_angle": (("axis", lambda v: isinstance(v, str), "an axis name"),
                       ("angle", _is_int, "an angle in degrees")),
    "exact": (("answer", lambda v: v is not None, "the answer text"),),
}
RULES = tuple(_SPEC_KEYS)  # a tuple: `in` takes an unhashable rule (a JSON list) too
# rule -> keys it may leave out or null, checked as _SPEC_KEYS's where given.
_OPTIONAL_KEYS: dict[str, tuple[tuple[str, Any, str], ...]] = {
    "integer": (("count", lambda v: v is None or isinstance(v, bool), "true, false or null"),
                ("noun", lambda v: v is None or (isinstance(v, str) and bool(v.strip())),
                 "null or the count's plural noun, e.g. \"apples\"")),
    "rotation_angle": (("options", lambda v: v is None or _is_texts(v), "null or a list of option texts"),),
    "snake_best_worst": (("safe", lambda v: v is None or _is_words(v),
                          "null or a list of moves (those that survive every opponent move)"),),
}


def spec_problem(spec: Any) -> str | None:
    """What makes ``spec`` unusable as a verifier spec, or None: readers of records check it first, so a
    malformed record is refused by name instead of raising while a reply is scored."""
    if not isinstance(spec, Mapping):
        return f"verifier must be an object with a 'rule', got {json.dumps(spec, default=repr)}"
    rule = spec.get("rule")
    if rule not in RULES:
        return f"verifier rule {rule!r} is not one of {', '.join(RULES)}"
    for key, _, what in _SPEC_KEYS[rule]:
        if key not in spec:
            return f"verifier rule {rule!r} needs {key!r} ({what})"
    for key, test, what in _SPEC_KEYS[rule] + _OPTIONAL_KEYS.get(rule, ()):
        if not test(spec.get(key)):  # an optional key left out reads as null
            got = json.dumps(spec[key], default=repr)
            return f"verifier rule {rule!r}: {key!r} must be {what}, got {got}"
    return None


def spec_of(record: Any) -> dict[str, Any]:
    """The verifier spec of a TaskRecord/TaskDraft, a record dict, a ground-truth dict or its JSON."""
    if isinstance(record, str):
        return spec_of(load_ground_truth(record))
    if isinstance(record, Mapping):
        if "rule" in record:
            return dict(record)
        if "verifier" in record:
            return dict(record["verifier"])
        raise ValueError("verify needs a record dict with a 'verifier' or a verifier spec with a 'rule'; got "
                         f"a dict with keys {sorted(map(str, record))}")
    if hasattr(record, "verifier"):
        return dict(record.verifier)
    raise ValueError("verify needs a TaskRecord, TaskDraft, record dict, ground_truth_json string or "
                     f"verifier spec; got {type(record).__name__}")


def verify(response: Any, record: Any) -> dict[str, float]:
    """Score ``response`` against ``record`` (see the module docstring): overall, format, accuracy."""
    spec = spec_of(record)
    problem = spec_problem(spec)  # a ValueError, which the reward adapters score 0, not a KeyError later
    if problem:
        raise ValueError(problem)
    text = _as_text(response)
    if text is None:
        return {"overall": 0.0, "format": 0.0, "accuracy": 0.0}
    p = parse(text)
    if spec["rule"] == "snake_best_worst":
        fmt = p.format_ok(("best_answer", "worst_answer"))
        acc = _snake_ok(p, spec)
    else:
        fmt = p.format_ok(("answer",))
        acc = _score_answer(_answer_content(p), spec)
    f, a = float(fmt), float(acc)
    return {"overall": (1.0 - FORMAT_WEIGHT) * a + FORMAT_WEIGHT * f, "format": f, "accuracy": a}


def parse_move(response: Any, record: Any) -> str | None:
    """The move a reply to a move question names (canonical spelling, e.g. "UP", "X+", "a"), or None
    when it names none or several. Any legal move counts, best or not: the player acts on it."""
    spec = spec_of(record)
    if spec.get("rule") == "snake_best_worst":
        choices, tags = list(spec["moves"]), ("best_answer", "answer")
    elif spec.get("rule") == "word":
        choices, tags = list(spec["choices"]), ("answer",)
    else:
        raise ValueError("parse_move needs a move question (rule word or snake_best_worst), not rule "
                         f"{spec.get('rule')!r}")
    text = _as_text(response)
    if text is None:
        return None
    p = parse(text)
    for tag in tags:
        if f"<{tag}>" in p.region or f"</{tag}>" in p.region:
            content = p.tag(tag)
            break
    else:
        content = _answer_content(p)
    if content is None or len(content) > MAX_ANSWER_CHARS:
        return None
    return _one_choice(content, choices, risky=not _no_move_safe(spec))


def names_no_move(response: Any, record: Any) -> bool:
    """Whether a reply rightly names no move: "None" as the best move of a Snake move question where every
    move is fatal, as its prompt asks (whatever its fatal list says: that is scored, not parsed)."""
    spec = spec_of(record)
    text = _as_text(response)
    if spec.get("rule") != "snake_best_worst" or spec.get("good") or text is None:
        return False
    return _snake_moves(parse(text).tag("best_answer"), list(spec["moves"])) == set()


def _field(record: Any, key: str) -> Any:
    """A field of a record dict or a TaskRecord/TaskDraft; None when it has none."""
    return record.get(key) if isinstance(record, Mapping) else getattr(record, key, None)


def ground_truth_json(record: Any) -> str:
    """The ground truth a trainer format stores: JSON of the game, question type, answer and verifier
    spec (keys sorted, so the same record always gives the same bytes)."""
    payload = {"v": GROUND_TRUTH_VERSION, "game": _field(record, "game"),
               "qa_type": _field(record, "qa_type"), "answer": _field(record, "answer"),
               "verifier": spec_of(record)}
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def load_ground_truth(text: str) -> dict[str, Any]:
    """Inverse of ``ground_truth_json``; a string that is not one becomes an ``exact`` rule on it."""
    try:
        payload = json.loads(text)
    except (TypeError, ValueError, RecursionError):  # RecursionError: "[" nested past json's depth
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("verifier"), dict):
        return payload
    return {"v": GROUND_TRUTH_VERSION, "answer": text, "verifier": {"rule": "exact", "answer": text}}


def reference_response(record: Any) -> str:
    """The ideal reply to a record: its analysis as the reasoning, then the answer in the asked tags
    (the assistant turn of SFT formats; ``verify`` gives it 1.0)."""
    answer = str(_field(record, "answer"))
    tail = answer if spec_of(record)["rule"] == "snake_best_worst" else f"<answer>{answer}</answer>"
    return f"<think>\n{_field(record, 'analysis')}\n</think>\n{tail}"
