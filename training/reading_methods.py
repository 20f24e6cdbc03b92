"""The ways of cutting a line into characters that the evaluation compares with the one serving uses.

- "components" (serving's, `handwriting.reading.read`): connected strokes merged into characters, with
  candidate cuts and joins that the recogniser's confidence decides.
- "projection": cut where no ink crosses the de-slanted column; too-wide runs cut at their thinnest
  columns, by width alone.
- "best_path": over-segmentation (every candidate cut taken) and the recogniser's best path through the
  pieces: the split/merge decision made by the recogniser, merges of neighbours included.

They share serving's decoding, ink finding, scoring and look-alike handling, so only the cutting differs.
"""

from __future__ import annotations

import numpy as np

from handwriting import segmentation
from handwriting.reading import (
    MAX_CHARACTERS,
    Reading,
    Scores,
    character_pieces,
    find_writing,
    read,
    reading_of,
    refuse_too_many,
)
from handwriting.models import load
from handwriting.segmentation import MARK_SIDE, MAX_PIECES, WIDE, WIDER_THAN_MEDIAN, Line, Piece
from handwriting.tasks import get_task

METHODS = ("components", "projection", "best_path")
PATH_BONUS = -0.5  # best path: score per character; below 0 it favours fewer, whole characters
LONGEST_RUN = 3  # best path: a character is one atom or a run of up to this many


def read_with(image, task, method: str = "components") -> Reading:
    """`handwriting.reading.read` with the line cut by `method` (one of METHODS)."""
    if method not in METHODS:
        raise ValueError(f"Unknown segmentation method {method!r}: choose one of {METHODS}.")
    if method == "components":
        return read(image, task)
    task = get_task(task)
    writing = find_writing(image)
    line = writing.line
    if method == "projection":
        pieces = character_pieces(projection(line), line)
        refuse_too_many(len(pieces))
        scores = Scores(load(task), writing)
        scores.add(pieces)
        return reading_of(pieces, scores, task)
    atoms = character_pieces(over_segmented(line), line)
    refuse_too_many(len(atoms), 2 * MAX_CHARACTERS)  # atoms are finer than characters
    runs = _runs(atoms)
    scores = Scores(load(task), writing)
    scores.add([piece for i in range(len(atoms)) for _, piece in runs[i]])
    return reading_of(_best_path(atoms, runs, scores), scores, task)


def projection(line: Line) -> list[Piece]:
    """Cuts at empty de-slanted columns; a run wider than WIDER_THAN_MEDIAN times the median run is cut,
    at its thinnest columns, into as many characters as its width holds. No recogniser involved."""
    everything = range(line.count)
    lo = np.floor(line.sx.min())
    profile = np.bincount((line.sx - lo).astype(int)).astype(float)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], (profile > 0).astype(int), [0]])))
    runs = list(zip(edges[::2], edges[1::2]))
    big = [b - a for a, b in runs if b - a >= MARK_SIDE * line.height]
    median = float(np.median(big)) if big else line.height
    pieces = []
    for a, b in runs:
        run = Piece.of(everything, lo + a, lo + b)
        width = b - a
        k = 1
        if width > WIDE * line.height and width > WIDER_THAN_MEDIAN * median:
            k = min(MAX_PIECES, max(2, int(round(width / median))))
        pieces.extend(segmentation.cut_at(run, segmentation.candidate_cuts(profile[a:b], lo + a, k, tries=1)[0])
                      if k > 1 else [run])
    return pieces


def over_segmented(line: Line) -> list[Piece]:
    """The best path's atoms: every group, cut at every candidate cut of its widest cutting."""
    out = []
    for piece in segmentation.components(line):
        if segmentation.cuttings(piece, line):
            out.extend(max(piece.children, key=len))
        else:
            out.append(piece)
    return out


def _runs(atoms: list[Piece]) -> list[list[tuple[int, Piece]]]:
    """Per atom i, the characters that may start at it: (index after the run, the run joined)."""
    runs = []
    for i in range(len(atoms)):
        run, starting = atoms[i], [(i + 1, atoms[i])]
        for j in range(i + 1, min(i + LONGEST_RUN, len(atoms))):
            run = run.joined(atoms[j])
            starting.append((j + 1, run))
        runs.append(starting)
    return runs


def _best_path(atoms: list[Piece], runs, scores: Scores) -> list[Piece]:
    """Dynamic programming over the atoms: each character one atom or a run of up to LONGEST_RUN."""
    n = len(atoms)
    best = [0.0] + [-np.inf] * n
    back = [None] * (n + 1)
    for i in range(n):
        if not np.isfinite(best[i]):
            continue
        for end, run in runs[i]:
            score = best[i] + scores.score(run) + PATH_BONUS
            if score > best[end]:
                best[end], back[end] = score, (i, run)
    out, end = [], n
    while end > 0:
        i, run = back[end]
        out.append(run)
        end = i
    return out[::-1]
