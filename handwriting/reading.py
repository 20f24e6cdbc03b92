"""Read a whole number or word: a line of handwriting -> its characters, boxes and confidences.

    from handwriting.reading import read
    reading = read("2026.png", "digits")
    reading.text                      # "2026"
    reading.as_json()["characters"]   # [{"box": [x0, y0, x1, y1], "label": "2", ...}, ...]

The picture goes through the single-character path's decoding and ink finding (at a line's working
size), `segmentation` finds the characters, each is centred and scaled by the same `center_in_frame`,
and all of them go to the model in one batched call; a second call scores candidate cuts and joins,
only when a stroke group is too wide or too unsure to be one character. Look-alikes (o/O/0, s/S, l/I)
take the case (or digit) of the rest of the word. Bad input raises `InvalidImageError` /
`BlankImageError` with a message for the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from handwriting import segmentation
from handwriting.decoding import BlankImageError, InvalidImageError, image_size, oriented_size, to_grey
from handwriting.preprocessing import center_in_frame, clean_ink, grow, ink_map, resize
from handwriting.models import load
from handwriting.refusal import REFUSED
from handwriting.tasks import LOOKALIKES, Task, get_task

DECODE_SIDE = 1024  # decoded pictures are reduced to this longest side first
LINE_HEIGHT = 128  # then to this height: a character gets the pixels the single-character path gives it
CANVAS_HEIGHT = 4 * LINE_HEIGHT  # pictures up to this high are canvases, decoded straight to LINE_HEIGHT; taller ones are
# photos, whose writing is looked for first
MAX_WIDTH = 12_000  # wider inputs are refused from their header, before decoding
MAX_ASPECT = 40  # a line this many times wider than high holds more than MAX_CHARACTERS characters
MAX_CHARACTERS = 32
UNSURE_BELOW = 0.6  # a character read with less confidence than this is flagged unsure
SPECK_FRACTION = 0.002  # ink blobs under this share of a line's ink are noise (an i's dot is more)
INK_LEVEL = 0.35  # cleaned ink above this is stroke, for the segmentation
CHAR_SIDE = 0.45  # a piece under this share of the line height both ways is a fragment or speck
WIDTH_PENALTY = 3.0  # score lost per line height a piece is wider / narrower than a character can be
WIDEST, NARROWEST = 1.0, 0.12  # a character's width range, in line heights
JOIN_MARGIN = 0.02  # two close neighbours are one character if that beats their mean log-confidence by this
BLANK = "No handwriting found: the image looks blank. Write a number or a word in dark ink on a light background."


@dataclass
class Character:
    """One character read: where (input pixels), what, how sure, and the runners-up."""

    box: list[int]  # [x0, y0, x1, y1] in the input picture's pixels, x1/y1 exclusive
    label: str
    confidence: float
    top3: list[tuple[str, float]]
    unsure: bool
    model_input: np.ndarray | None = field(default=None, repr=False, compare=False)  # the 28x28 the model saw

    def as_json(self) -> dict:
        return {"box": list(self.box), "label": self.label, "confidence": round(self.confidence, 4),
                "top3": [{"label": k, "confidence": round(p, 4)} for k, p in self.top3], "unsure": self.unsure}


@dataclass
class Reading:
    """A line read: its text and, left to right, its characters."""

    text: str
    characters: list[Character]

    def as_json(self) -> dict:
        return {"text": self.text, "characters": [c.as_json() for c in self.characters]}


def read(image, task: Task | str = "digits", *, unsure_below: float = UNSURE_BELOW) -> Reading:
    """Any input the single-character path accepts, holding a line of writing -> its Reading.

    One batched model call reads every character; a second is made only when a stroke group is too wide
    (touching characters) or two close neighbours may be one character, and only for those."""
    task = get_task(task)
    writing = find_writing(image)
    pieces = character_pieces(segmentation.components(writing.line), writing.line)
    refuse_too_many(len(pieces))  # before the model's work
    scores = Scores(load(task), writing)
    scores.add(pieces)
    scores.add(_second_candidates(pieces, scores, task.split_margin))
    return reading_of(_choose(pieces, scores, task.split_margin), scores, task, unsure_below)


# ---------------------------------------------------------------------------------------------------
# Finding the writing


@dataclass
class Writing:
    """A line of writing found in a picture: its strokes analysed for segmentation, its cleaned ink, and
    how its pixels map back to the input picture's (the boxes the page draws)."""

    line: segmentation.Line
    ink: np.ndarray
    offset: tuple[int, int]  # (left, top) of the writing's box in the working-size grey
    origin: tuple[float, float]  # where the grey's (0, 0) lies in the input's pixels
    scale: tuple[float, float]  # input pixels per grey pixel, across and down

    def input_box(self, box: tuple[int, int, int, int]) -> list[int]:
        """A box in the writing's pixels -> the same box in the input picture's pixels."""
        (x0, y0, x1, y1), (left, top), (ox, oy), (sx, sy) = box, self.offset, self.origin, self.scale
        x0, x1, y0, y1 = x0 + left, x1 + left, y0 + top, y1 + top
        return [int(np.floor(ox + x0 * sx)), int(np.floor(oy + y0 * sy)),
                int(np.ceil(ox + x1 * sx)), int(np.ceil(oy + y1 * sy))]


def find_writing(image) -> Writing:
    """Decode the picture at the line's working size, find its ink and analyse its strokes."""
    grey, size, origin = _decoded(image)
    try:
        ink = clean_ink(ink_map(grey), SPECK_FRACTION)
    except BlankImageError:
        raise BlankImageError(BLANK) from None
    strokes = ink > INK_LEVEL
    rows, cols = np.flatnonzero(strokes.any(axis=1)), np.flatnonzero(strokes.any(axis=0))
    if rows.size == 0:
        raise BlankImageError(BLANK)
    # the rest works on the writing's box (3 px more than the 2 px of ink kept around strokes)
    top, left = max(0, rows[0] - 3), max(0, cols[0] - 3)
    strokes, ink = strokes[top : rows[-1] + 4, left : cols[-1] + 4], ink[top : rows[-1] + 4, left : cols[-1] + 4]
    scale = (size[0] / grey.shape[1], size[1] / grey.shape[0])
    return Writing(segmentation.analyse(strokes), ink, (left, top), origin, scale)


def _decoded(image) -> tuple[np.ndarray, tuple[int, int], tuple[float, float]]:
    """Grey at the line's working size, the input's own (width, height), and where the grey's (0, 0) lies
    in the input's pixels (a photo is cropped to its writing).

    A canvas is decoded straight to the working size. A taller picture (a photo of a page with a
    number on it) is decoded at up to DECODE_SIDE, its writing found at the working size, and the
    writing's band cut from the larger picture: the characters keep their pixels."""
    size = _checked_size(image)
    side = DECODE_SIDE
    if size is not None and size[1] <= CANVAS_HEIGHT:  # a canvas-sized line: decode straight to the working size
        w, h = size
        side = max(1, round(max(w, h) * min(1.0, LINE_HEIGHT / h, DECODE_SIDE / w)))
    grey = to_grey(image, side)
    size = oriented_size(size, grey)  # EXIF may have turned it
    small = _line_size(grey)
    if grey.shape[0] <= small.shape[0] * 2:
        return small, size, (0.0, 0.0)
    band = _writing_band(small, grey.shape)
    if band is None:
        return small, size, (0.0, 0.0)
    top, bottom, left, right = band
    crop = _line_size(grey[top:bottom, left:right])
    scale_y, scale_x = size[1] / grey.shape[0], size[0] / grey.shape[1]
    return crop, (round((right - left) * scale_x), round((bottom - top) * scale_y)), (left * scale_x, top * scale_y)


def _writing_band(small: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Rows and columns of the larger picture that hold the writing found in `small` (with a margin),
    or None when the writing fills most of the picture anyway."""
    try:
        strokes = ink_map(small) > 0.5
    except BlankImageError:  # nothing here: the caller's own ink finding says so, in its words
        return None
    rows, cols = np.flatnonzero(strokes.any(axis=1)), np.flatnonzero(strokes.any(axis=0))
    if rows.size == 0:
        return None
    fy, fx = shape[0] / small.shape[0], shape[1] / small.shape[1]
    margin = 0.3 * (rows[-1] - rows[0] + 1)
    top, bottom = max(0, int((rows[0] - margin) * fy)), min(shape[0], int(np.ceil((rows[-1] + 1 + margin) * fy)))
    left, right = max(0, int((cols[0] - margin) * fx)), min(shape[1], int(np.ceil((cols[-1] + 1 + margin) * fx)))
    if bottom - top > 0.6 * shape[0] or min(bottom - top, right - left) < 8:
        return None
    return top, bottom, left, right


def _checked_size(image) -> tuple[int, int] | None:
    """The input's (width, height) from its header; a strip too wide to be a line is refused undecoded."""
    size = image_size(image)
    if size is not None:
        w, h = size
        if w > MAX_WIDTH or w > MAX_ASPECT * max(h, 1):
            raise InvalidImageError(
                f"The image is {w}x{h} pixels: too wide to read as one line (at most {MAX_WIDTH} pixels wide "
                f"and {MAX_ASPECT} times as wide as high). Crop it to the number or word.")
    return size


def _line_size(grey: np.ndarray) -> np.ndarray:
    """Reduce to LINE_HEIGHT high (and DECODE_SIDE wide): the scale the single-character path works at."""
    h, w = grey.shape
    scale = min(1.0, LINE_HEIGHT / h, DECODE_SIDE / w)
    if scale >= 1.0:
        return grey
    return resize(grey, max(1, round(w * scale)), max(1, round(h * scale)))


def character_pieces(pieces: list, line: segmentation.Line) -> list:
    """The pieces that may be characters: a lone dot or speck is dropped; none left is refused."""
    kept = [p for p in pieces if _character_like(p, line)]
    if not kept:
        raise InvalidImageError("Only a dot or a speck was found: write a number or a word.")
    return kept


def _character_like(piece: segmentation.Piece, line: segmentation.Line) -> bool:
    """Not a lone dot or speck: the piece is several stroke widths long."""
    chosen = piece.select(line)
    ys, xs = line.ys[chosen], line.xs[chosen]
    if ys.size == 0:
        return False
    side = max(ys.max() - ys.min(), xs.max() - xs.min()) + 1
    return side >= 2.0 * line.stroke and side >= CHAR_SIDE * line.height


def refuse_too_many(n: int, limit: int = MAX_CHARACTERS) -> None:
    if n > limit:
        raise InvalidImageError(f"About {n} characters were found: at most {MAX_CHARACTERS} are read at once. "
                                "Write a shorter number or word.")


# ---------------------------------------------------------------------------------------------------
# Scoring candidate characters with the recogniser


class Scores:
    """The recogniser's answers for one line's candidate pieces: probabilities, box and model input.

    Each `add` is one batched model call, for the candidates not scored yet."""

    def __init__(self, recognizer, writing: Writing):
        self.recognizer, self.writing = recognizer, writing
        self._found: dict[int, tuple] = {}  # id(piece) -> (piece, probabilities, box, model input, answer)

    def add(self, candidates: list) -> None:
        todo = [p for p in candidates if p not in self]
        if not todo:
            return
        crops, boxes = zip(*(self._crop(p) for p in todo))
        for p, row, box, crop in zip(todo, self.recognizer.rows(list(crops)), boxes, crops):
            self._found[id(p)] = (p, self.recognizer.real(row), box, crop, self.recognizer.answer_in_line(row))

    def __contains__(self, piece) -> bool:
        return id(piece) in self._found

    def __getitem__(self, piece) -> tuple[np.ndarray, tuple[int, int, int, int], np.ndarray]:
        return self._found[id(piece)][1:4]

    def refused(self, piece) -> bool:
        """The model says the piece is none of the task's characters."""
        return self._found[id(piece)][4].refused

    def score(self, piece) -> float:
        """Log-confidence, less a penalty for a width no character has."""
        pr, box, _ = self[piece]
        width = (box[2] - box[0]) / self.writing.line.height
        penalty = WIDTH_PENALTY * (max(0.0, width - WIDEST) + max(0.0, NARROWEST - width))
        return float(np.log(max(pr.max(), 1e-6))) - penalty

    def _crop(self, piece) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """A piece's ink (the cleaned soft ink around its strokes) -> the 28x28 model input, and its box."""
        line, ink = self.writing.line, self.writing.ink
        chosen = piece.select(line)
        ys, xs = line.ys[chosen], line.xs[chosen]
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        pad = 2
        Y0, X0 = max(0, y0 - pad), max(0, x0 - pad)
        Y1, X1 = min(ink.shape[0], y1 + pad), min(ink.shape[1], x1 + pad)
        mask = np.zeros((Y1 - Y0, X1 - X0), bool)
        mask[ys - Y0, xs - X0] = True
        crop = ink[Y0:Y1, X0:X1] * grow(mask, pad)
        return center_in_frame(crop), (int(x0), int(y0), int(x1), int(y1))


def _second_candidates(pieces, scores: Scores, margin: float) -> list:
    """Cuttings and joins that could still win once the pieces are scored (a cutting must beat the
    whole by `margin` with scores <= 0, so a whole scoring above -margin keeps its cuttings unscored)."""
    out = []
    whole = [scores.score(p) for p in pieces]
    line = scores.writing.line
    for i, p in enumerate(pieces):
        if whole[i] + margin < 0:
            out.extend(q for cutting in segmentation.cuttings(p, line) for q in cutting)
        if _joinable(pieces, i) and (whole[i] + whole[i + 1]) / 2 + JOIN_MARGIN < 0:
            out.append(p.with_next)
    return out


def _choose(pieces, scores: Scores, margin: float) -> list:
    """The characters: for each group the cutting the recogniser is most confident in, or a join.

    A cutting scores its least confident piece: cutting a character in two often gives two confident
    halves, but rarely makes every piece more confident than the whole was."""
    best = [_best_cutting(p, scores, margin) for p in pieces]
    chosen, i = [], 0
    while i < len(pieces):
        joined = pieces[i].with_next
        if _joinable(pieces, i) and joined in scores:
            apart = (best[i][1] + best[i + 1][1]) / 2
            if scores.score(joined) > apart + JOIN_MARGIN:
                chosen.append(joined)
                i += 2
                continue
        chosen.extend(best[i][0])
        i += 1
    return chosen


def _joinable(pieces, i: int) -> bool:
    """Piece i may be joined with the next one (its neighbour was not dropped as a speck)."""
    return pieces[i].with_next is not None and i + 1 < len(pieces) and pieces[i].neighbour is pieces[i + 1]


def _best_cutting(p, scores: Scores, margin: float) -> tuple[list, float]:
    """The cutting of `p` the recogniser is surest of, and its score: one must beat the whole by `margin`."""
    best, best_score = [p], scores.score(p)
    for cutting in p.children:
        if all(q in scores for q in cutting):
            score = min(scores.score(q) for q in cutting)
            if score > best_score + margin:
                best, best_score = cutting, score
    return best, best_score


# ---------------------------------------------------------------------------------------------------
# The reading


def reading_of(chosen: list, scores: Scores, task: Task, unsure_below: float = UNSURE_BELOW) -> Reading:
    """The chosen pieces, left to right, as the Reading: look-alikes settled by the word, boxes in the
    input's pixels."""
    refuse_too_many(len(chosen))
    probs = _in_context([scores[p][0] for p in chosen], task)
    characters = []
    for p, pr in zip(chosen, probs):
        _, box, crop = scores[p]
        order = np.argsort(pr)[::-1][:3]
        top3 = [(task.labels[i], float(pr[i])) for i in order]
        refused = scores.refused(p)  # "?", marked unsure: none of the task's characters
        characters.append(Character(scores.writing.input_box(box), REFUSED if refused else top3[0][0], top3[0][1],
                                    top3, refused or top3[0][1] < unsure_below, crop))
    return Reading("".join(c.label for c in characters), characters)


def _in_context(probs: list[np.ndarray], task: Task) -> list[np.ndarray]:
    """Look-alikes (o/O/0, s/S, l/I/1, ...) resolved by the word: the kind (capital, small, digit) most
    of its unambiguous characters after the first have. Their probability moves onto that member."""
    labels = task.labels
    groups = [[task.index(c) for c in g if task.has(c)] for g in LOOKALIKES]
    groups = [g for g in groups if len(g) > 1]
    ambiguous = {i for g in groups for i in g}
    votes = {"upper": 0.0, "lower": 0.0, "digit": 0.0}
    voters = probs[1:] if len(probs) > 2 else probs  # a capital first letter ("Hello") sets no case
    for pr in voters:
        top = int(pr.argmax())
        if top not in ambiguous:
            votes[_kind(labels[top])] += float(pr[top])
    if not any(votes.values()):
        return probs
    kind = max(votes, key=votes.get)
    out = []
    for pr in probs:
        pr = pr.copy()
        top = int(pr.argmax())
        for g in groups:
            members = [i for i in g if _kind(labels[i]) == kind]
            if top in g and members:
                pr[members[0]] = pr[g].sum()
                pr[[i for i in g if i != members[0]]] = 0.0
        out.append(pr)
    return out


def _kind(char: str) -> str:
    return "digit" if char.isdigit() else "upper" if char.isupper() else "lower"
