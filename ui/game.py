"""The game at the edge: the public `/game_*` endpoints, and the Game tab with its handlers and rendering.

The rules live in `handwriting.game`; this module turns its errors (and the library's) into messages:
`gr.Error` for API callers, a warning toast for the page (whose controls must stay usable), and renders
what the page shows: the target, the clock, the verdict, the end-of-round report and the high-score table
(`ui.game_text`). The API functions' docstrings are the API docs.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, fields

import gradio as gr

from handwriting.config import settings
from handwriting.game import MAX_NAME, ROUND_LENGTHS, Game, GameError, HighScores, RoundOverError
from handwriting.models import load
from handwriting.service import FeedbackDesk
from ui.errors import USER_ERRORS, errors_as_gr_error
from ui.gradio_patches import client_address
from ui.inputs import DrawingCanvas, DrawingPad, is_empty
from ui.game_text import (
    clock_markdown,
    high_scores_html,
    misses_html,
    mode_choices,
    report_markdown,
    score_markdown,
    table_rules_markdown,
    target_html,
    verdict_markdown,
)

ERRORS = USER_ERRORS + (GameError,)

# Enter submits the drawing while a round is on screen (not while typing in a field, where Enter means enter).
SUBMIT_KEY_JS = """
() => {
  if (window.gameSubmitKey) return;
  window.gameSubmitKey = true;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.repeat || event.isComposing) return;
    const tag = (event.target && event.target.tagName) || "";
    if (["INPUT", "TEXTAREA", "SELECT", "BUTTON"].includes(tag) || event.target.isContentEditable) return;
    const button = document.querySelector("#game-submit");
    if (!button || button.offsetParent === null) return;  // no round on screen
    event.preventDefault();
    button.click();
  });
}
"""

api_errors = errors_as_gr_error(ERRORS)  # the game's and the library's user-facing errors


class GameEndpoints:
    """One `Game` for the whole app and its public API functions.

    `desk` keeps opted-in drawings as feedback with source "game"; the high-score table is a file of its
    own in the same data folder.
    """

    def __init__(self, desk: FeedbackDesk, game: Game | None = None):
        self.desk = desk
        if game is None:
            cfg = settings()
            scores = HighScores(desk.recorder.folder, shown=("page", "api") if cfg.game_api_scores else ("page",),
                                per_client=cfg.game_table_per_client)
            game = Game(scores, keep=self._keep, rounds_per_client=cfg.game_rounds_per_client)
        self.game = game

    def _keep(self, image, x, task, predicted: str, target: str, confidence: float) -> str:
        record = self.desk.submit(image, task, predicted, target, model_input=x, confidence=confidence,
                                  model_version=load(task).version, source="game")
        return record.id

    # the public API --------------------------------------------------------------------------------

    @api_errors
    def game_start(self, mode: str = "digits", seconds: float = 60, name: str = "", opt_in: bool = False,
                   request: gr.Request = None) -> dict:
        """Start a round of the drawing game: the app names a character, you draw it, fast and right scores.

        Args:
            mode: "digits" (0-9), "letters" (A-Z, a-z) or "all" (both; "both" is accepted too); only
                modes with a model can be played.
            seconds: the round's length, 5 to 300.
            name: for the high-score table, optional, at most 24 characters.
            opt_in: true to keep your drawings (labelled with the character asked for) to train better models;
                only a JSON true or false is accepted.
        Returns:
            the round: "round_id" (send it with every call; keep it to yourself), "target" (draw this),
            "remaining" seconds, "deadline_unix", "score", "streak".
        """
        return self.game.start(mode, seconds, name, opt_in, source="api", client=client_address(request))

    @api_errors
    def game_submit(self, round_id: str, sketch) -> dict:
        """Submit a drawing of the round's current target. Time counts on the server, from the moment
        the target was given until the drawing arrives.

        Args:
            round_id: from /game_start.
            sketch: an image-editor value {"background", "layers", "composite"}; send the drawing as composite.
        Returns:
            "verdict" (target, predicted, right, confidence for the target, seconds, points), the next
            "target", "score", "streak", "remaining"; when time is up, "over" and a "summary".
        """
        return self.game.submit(round_id, sketch)

    @api_errors
    def game_skip(self, round_id: str) -> dict:
        """Skip the current target: no points, the streak breaks, a new target.

        Args:
            round_id: from /game_start.
        Returns:
            the same as /game_submit.
        """
        return self.game.skip(round_id)

    @api_errors
    def game_score(self, round_id: str) -> dict:
        """Read a round's score: score, streak, right answers, remaining seconds; once over, its summary
        (totals, best streak, the drawings the model got wrong and what it saw, the high-score rank).

        Args:
            round_id: from /game_start.
        """
        return self.game.status(round_id)

    @api_errors
    def game_end(self, round_id: str) -> dict:
        """End a round before its time is up; returns its final score and summary.

        Args:
            round_id: from /game_start.
        """
        return self.game.end(round_id)

    @api_errors
    def game_high_scores(self, mode: str = "digits") -> list:
        """The ten best rounds of a mode played on the page (and through the API where the operator allows it):
        rank, name, score, right, drawn, best_streak, seconds, time_utc.

        Args:
            mode: "digits", "letters" or "all".
        """
        return [entry.as_dict() for entry in self.game.scores.top(mode)]

@dataclass
class GameView:
    """What the Game tab's handlers update."""

    state: gr.State  # this session's round id
    timer: gr.Timer
    setup: gr.Column
    play: gr.Column
    summary: gr.Column
    message: gr.Markdown
    target: gr.HTML
    clock: gr.Markdown
    score: gr.Markdown
    verdict: gr.Markdown
    report: gr.Markdown
    misses: gr.HTML  # the drawings the model got wrong, as it saw them
    high_scores: gr.HTML
    sketch: DrawingCanvas

    @property
    def outputs(self) -> list:
        return [getattr(self, f.name) for f in fields(self)]

    @property
    def tick_outputs(self) -> list:
        """What the clock's tick may change: never the drawing, the target or the verdict on screen."""
        return [self.timer, self.setup, self.play, self.summary, self.clock, self.score, self.report, self.misses,
                self.high_scores]


class GamePage:
    """The Game tab's handlers: each answers with {component: value} for what changes, or `gr.skip()` when
    nothing does (Gradio takes an empty dict for one value and rejects it as too few)."""

    def __init__(self, view: GameView, endpoints: GameEndpoints):
        self.v = view
        self.game = endpoints.game

    def page_start(self, mode, seconds, name, opt_in, round_id=None, request: gr.Request = None):
        """Start: a new round for this browser session (its id goes into the session's state); the
        session's previous round, if still on, ends first (one visitor, one round)."""
        try:
            if round_id:
                self.game.end(round_id)
        except ERRORS:
            pass  # forgotten or over already
        try:
            state = self.game.start(mode, seconds, name, opt_in, source="page", client=client_address(request))
        except ERRORS as exc:
            gr.Warning(str(exc))
            return self._out(message=f"**Cannot start:** {html.escape(str(exc))}")
        return self._out(
            state=state["round_id"], timer=gr.Timer(active=True), setup=gr.Column(visible=False),
            play=gr.Column(visible=True), summary=gr.Column(visible=False), message="",
            target=target_html(state["target"]), clock=clock_markdown(state["remaining"]), score=score_markdown(state),
            verdict="", report="", misses="", sketch="",
        )

    def page_submit(self, round_id, sketch):
        """Submit (button or Enter): judge the drawing, right or wrong, show the verdict and the next target."""
        return self._play(lambda: self.game.submit(round_id, sketch), round_id)

    def page_live(self, round_id, sketch):
        """After each stroke: once the model sees the target, the drawing counts, the next target shows and
        the pad clears; until then (and for an empty pad) nothing changes, without a word."""
        if not round_id or is_empty(sketch):
            return gr.skip()
        try:
            result = self.game.submit(round_id, sketch, live=True)
        except ERRORS:  # a speck, a round just over: the tick or Submit says so
            return gr.skip()
        if result["verdict"] is None:
            return gr.skip()
        return self._shown(result, round_id)

    def page_skip(self, round_id):
        return self._play(lambda: self.game.skip(round_id), round_id)

    def page_end(self, round_id):
        """End round: stop early, show the summary."""
        try:
            self.game.end(round_id)
        except ERRORS as exc:
            gr.Warning(str(exc))
            return gr.skip()
        return self._finished(round_id)

    def page_tick(self, round_id):
        """Every second while a round runs: the clock; at 0 the round ends and the summary shows."""
        try:
            state = self.game.status(round_id)
        except ERRORS:
            return self._out(timer=gr.Timer(active=False))
        if state["over"]:
            return self._finished(round_id)
        return self._out(clock=clock_markdown(state["remaining"]))

    def page_high_scores(self, mode):
        try:
            return high_scores_html(mode, self.game.scores.top(mode))
        except ERRORS as exc:
            return f"<p>{html.escape(str(exc))}</p>"

    def _play(self, action, round_id):
        try:
            result = action()
        except RoundOverError as exc:
            gr.Warning(str(exc))
            return self._finished(round_id)
        except ERRORS as exc:  # a blank canvas, no round: the target and the drawing stay
            gr.Warning(str(exc))
            return gr.skip()
        return self._shown(result, round_id)

    def _shown(self, result, round_id):
        """A judged answer on the page: its verdict, and the next target on a cleared pad (or the summary)."""
        if result["over"]:
            return self._finished(round_id, verdict=verdict_markdown(result["verdict"]), sketch="")
        return self._out(target=target_html(result["target"]), clock=clock_markdown(result["remaining"]),
                         score=score_markdown(result), verdict=verdict_markdown(result["verdict"]), sketch="")

    def _finished(self, round_id, **extra):
        rnd = self.game.round(round_id)
        state = self.game.status(round_id)
        return self._out(
            timer=gr.Timer(active=False), setup=gr.Column(visible=True), play=gr.Column(visible=False),
            summary=gr.Column(visible=True), clock=clock_markdown(0), score=score_markdown(state),
            report=report_markdown(rnd.mode, state["summary"]), misses=misses_html(rnd),
            high_scores=self.page_high_scores(rnd.mode), **extra,
        )

    def _out(self, **values) -> dict:
        """The handler's answer: {component: value} for the named parts of the view; the rest stay."""
        return {getattr(self.v, name): value for name, value in values.items()}


# ---------------------------------------------------------------------------------------------------
# The tab


def game_tab(endpoints: GameEndpoints, demo: gr.Blocks, concurrency_limit: int) -> GamePage:
    """The Game tab: pick characters and a round length, draw each target shown, beat the clock.

    Round state is the session's `gr.State` (a round id; the rounds live in `endpoints.game`), so two
    players never see each other's rounds. The page's listeners are private; the public `/game_*`
    endpoints are wired at the end (drawings go through hidden inputs, like `/feedback`).
    """
    choices, note = mode_choices()
    first_mode = choices[0][1] if choices else None
    with gr.Column() as setup:
        gr.Markdown("Draw the character you are asked for, as fast as you can. Right answers score, fast and "
                    "sure ones score more, and every right answer in a row adds 10% to the next.")
        with gr.Row():
            mode = gr.Radio(choices, value=first_mode, label="Characters", elem_id="game-mode")
            seconds = gr.Radio([(f"{s} s", s) for s in ROUND_LENGTHS], value=60, label="Round length",
                               elem_id="game-seconds")
        if note:
            gr.Markdown(note, elem_id="game-modes-note")
        with gr.Row():
            name = gr.Textbox(label="Your name for the high scores (optional)", max_length=MAX_NAME, elem_id="game-name")
            opt_in = gr.Checkbox(False, label="Keep my drawings to train better models (each is stored with the "
                                              "character I was asked for)", elem_id="game-opt-in")
        start = gr.Button("Start", variant="primary", elem_id="game-start")
        message = gr.Markdown(elem_id="game-message")
    with gr.Column(visible=False) as play:
        with gr.Row():
            clock = gr.Markdown(elem_id="game-clock")
            score = gr.Markdown(elem_id="game-score")
        with gr.Row(equal_height=False):
            with gr.Column():
                target = gr.HTML(elem_id="game-target")
                verdict = gr.Markdown(elem_id="game-verdict")
            with gr.Column():
                sketch = DrawingCanvas(elem_id="game-sketch")  # judged after every stroke
                with gr.Row():
                    submit = gr.Button("Submit (Enter)", variant="primary", elem_id="game-submit")
                    skip = gr.Button("Skip", elem_id="game-skip")
                    end = gr.Button("End round", variant="stop", elem_id="game-end")
    with gr.Column(visible=False) as summary:
        report = gr.Markdown(elem_id="game-report")
        misses = gr.HTML(elem_id="game-misses")
    high_scores = gr.HTML(elem_id="game-high-scores")
    per_client = endpoints.game.scores.per_client if endpoints.game.scores is not None else 0
    gr.Markdown(table_rules_markdown(per_client), elem_id="game-table-rules")
    view = GameView(state=gr.State(None), timer=gr.Timer(1.0, active=False), setup=setup, play=play,
                    summary=summary, message=message, target=target, clock=clock, score=score, verdict=verdict,
                    report=report, misses=misses, high_scores=high_scores, sketch=sketch)
    page = GamePage(view, endpoints)

    shown, state = view.outputs, view.state
    quick = dict(api_visibility="private", concurrency_limit=None, show_progress="hidden")
    start.click(page.page_start, [mode, seconds, name, opt_in, state], shown, **quick)
    judging = dict(api_visibility="private", show_progress="hidden", concurrency_limit=concurrency_limit,
                   concurrency_id="recognise")
    sketch.change(page.page_live, [state, sketch], shown, trigger_mode="always_last", **judging)
    submit.click(page.page_submit, [state, sketch], shown, **judging)
    skip.click(page.page_skip, [state], shown, **quick)
    end.click(page.page_end, [state], shown, **quick)
    view.timer.tick(page.page_tick, [state], view.tick_outputs, **quick)
    mode.change(page.page_high_scores, [mode], high_scores, **quick)
    demo.load(page.page_high_scores, [mode], high_scores, **quick)
    demo.load(None, js=SUBMIT_KEY_JS)

    with gr.Column(visible=False):  # /game_submit's inputs: a round id and a drawing
        api_round = gr.Textbox(label="round_id")
        api_sketch = DrawingPad(label="sketch", type="numpy", image_mode="RGBA", layers=False, transforms=())
        api_result = gr.JSON(label="result")
        api_submit = gr.Button("Submit")
    api_submit.click(endpoints.game_submit, [api_round, api_sketch], api_result, api_name="game_submit",
                     concurrency_limit=concurrency_limit, concurrency_id="recognise")
    for fn in (endpoints.game_start, endpoints.game_skip, endpoints.game_score, endpoints.game_end,
               endpoints.game_high_scores):
        gr.api(fn, api_name=fn.__name__, concurrency_limit=None)
    return page
