"""What the live tabs share: the answer on screen (`Pending`), the controls under it, and one base for the
tabs that answer a drawing after every stroke (Digits, Letters, Read).

The answer is made and kept on the server (the session's `gr.State`); Yes and Send only say what is right,
so no request can make the store keep an answer the model did not give. Any error or new input clears it:
feedback is only ever stored for the input whose answer is on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import gradio as gr

from handwriting.reading import Reading
from handwriting.refusal import REFUSED
from handwriting.service import USER_ERRORS, FeedbackDesk, Prediction
from handwriting.feedback import InvalidFeedbackError
from handwriting.tasks import Task, get_task
from ui.inputs import is_empty


@dataclass
class Pending:
    """The answer on screen: the input it is about, what the model said, and its stored record once sent."""

    task: Task
    image: Any  # the input as the handlers received it (a drawing's bytes, an upload's path)
    answer: Prediction | Reading
    stored_id: int | None = None

    @property
    def said(self) -> str:
        """What the model said: a label, or a reading's text."""
        return self.answer.text if isinstance(self.answer, Reading) else self.answer.label


@dataclass
class AnswerControls:
    """"Is this correct?" under an answer: Yes, or No -> the right answer (`right`) and Send; `status` says
    what was stored."""

    ask: gr.Column
    correction: gr.Row
    right: gr.components.Component
    status: gr.Markdown
    yes: gr.Button
    no: gr.Button
    send: gr.Button

    @classmethod
    def build(cls, prefix: str, right) -> "AnswerControls":
        """The controls, hidden until there is an answer; `right()` makes the field the right answer is given in."""
        with gr.Column(visible=False, elem_id=f"{prefix}-feedback") as ask:
            gr.Markdown("**Is this correct?**")
            with gr.Row():
                yes = gr.Button("Yes", elem_id=f"{prefix}-feedback-yes")
                no = gr.Button("No", elem_id=f"{prefix}-feedback-no")
            with gr.Row(visible=False) as correction:
                field = right()
                send = gr.Button("Send", variant="primary", elem_id=f"{prefix}-feedback-send", scale=0, min_width=120)
        status = gr.Markdown(elem_id=f"{prefix}-feedback-status")
        return cls(ask, correction, field, status, yes, no, send)


@dataclass
class LiveView:
    """What every live tab's handlers update: the pending answer and the controls under it. Tabs add
    their own components as fields."""

    last: gr.State
    ask: gr.Column
    correction: gr.Row
    right: gr.components.Component
    status: gr.Markdown

    @property
    def outputs(self) -> list:
        """The tab's own components first (its answer is output 0), then the pending answer and its controls."""
        common = [f.name for f in fields(LiveView)]
        own = [f.name for f in fields(self) if f.name not in common]
        return [getattr(self, name) for name in own + common]


def same_input(a, b) -> bool:
    """Whether two inputs as the handlers receive them (a drawing's bytes, an upload's path) are the same."""
    return isinstance(a, (bytes, str)) and type(a) is type(b) and a == b


class LivePage:
    """The handlers of a live tab: answer (on a button, an upload, or after each stroke), clear, Yes, Send.

    A tab says how it answers (`answer`), what it shows for an answer (`shown`) and for none (`cleared`)."""

    verb, noun, failed = "Predict", "prediction", "Not recognised"
    give = "Choose the right answer from the list first."  # Send with nothing given
    pending_type = Pending

    def __init__(self, view: LiveView, desk: FeedbackDesk):
        self.view = view
        self.desk = desk

    def answer(self, image, task: Task) -> Prediction | Reading:
        raise NotImplementedError

    def shown(self, pending: Pending) -> dict:
        """The components showing `pending` (which may note how it was shown)."""
        raise NotImplementedError

    def cleared(self) -> dict:
        raise NotImplementedError

    def store(self, pending: Pending, correct: str):
        raise NotImplementedError

    def page_answer(self, image, task) -> dict:
        """The answer, and "Is this correct?" for it. A problem with the input is said in the status line
        under the answer (a toast would cover the page's top on a phone) and clears the previous answer."""
        v = self.view
        try:
            task = get_task(task)
            pending = self.pending_type(task, image, self.answer(image, task))
        except USER_ERRORS as exc:
            return {**self.forget(), v.status: f"**{self.failed}:** {exc}"}
        shown = self.shown(pending)
        return {**shown, v.last: pending, v.ask: gr.update(visible=True),
                v.correction: gr.update(visible=False), v.status: ""}

    def page_live(self, drawing, task) -> dict:
        """After each stroke on the pad (and when it is cleared): the same as the button; an empty pad just
        clears the answer."""
        if is_empty(drawing):
            return self.forget()
        return self.page_answer(drawing, task)

    def page_source(self, value, task, last: Pending | None, earlier: Pending | None) -> dict:
        """A Draw/Upload sub-tab shown: its input's own answer. The answer an unchanged input had comes back as
        it was (stored feedback stays stored, so nothing is asked twice); another input is answered anew, an
        empty one shows none. `earlier` keeps the answer of the sub-tab left (the output `self.earlier`)."""
        for kept, other in ((last, earlier), (earlier, last)):
            if isinstance(kept, Pending) and same_input(kept.image, value) and kept.task.name == task:
                return {**self.restore(kept), self.earlier: other}
        left = last if isinstance(last, Pending) else earlier
        if is_empty(value):
            return {**self.forget(), self.earlier: left}
        return {**self.page_answer(value, task), self.earlier: left}

    def restore(self, pending: Pending) -> dict:
        """`pending` on screen again, with its question, or the word that its feedback is stored."""
        v, stored = self.view, pending.stored_id
        return {**self.shown(pending), v.last: pending, v.ask: gr.update(visible=not stored),
                v.correction: gr.update(visible=False),
                v.status: f"This {self.noun}'s feedback is stored (record {stored})." if stored else ""}

    def page_again(self, pending: Pending | None, task) -> dict:
        """Another task (character set): the input on screen answered again at once, or nothing when none is."""
        if not isinstance(pending, Pending):
            return self.forget()
        return self.page_answer(pending.image, task)

    def forget(self) -> dict:
        """A new or cleared input: the answer on screen no longer describes it."""
        v = self.view
        return {**self.cleared(), v.last: None, v.ask: gr.update(visible=False),
                v.correction: gr.update(visible=False), v.status: ""}

    def confirm(self, pending: Pending | None) -> dict:
        """Yes: the answer was right. A lone "?" confirmed is kept (a picture that is none of the task's
        characters: what the "?" head learns from). A reading holding "?" among its characters is not: which
        character the "?" stands for is unknown until the person writes the text (No)."""
        if isinstance(pending, Pending) and REFUSED in pending.said and pending.said != REFUSED \
                and not pending.stored_id:
            return {self.view.status: f"Thank you. Readings with an unsure {pending.task.noun} are not kept; press "
                                      f"**No** and write what it says.",
                    self.view.ask: gr.update(visible=False)}
        return self._answer(pending, pending.said if pending else None)

    def correct(self, pending: Pending | None, right) -> dict:
        """Send: the right answer, as the person gave it."""
        if pending and not right:
            return {self.view.status: f"**Not stored:** {self.give}"}
        return self._answer(pending, right)

    def _answer(self, pending: Pending | None, correct) -> dict:
        """Store the answer to the pending one, once. A problem is said in the status line and the controls
        stay usable (a gr.Error would cover them with Gradio's error overlay)."""
        v = self.view
        try:
            if not isinstance(pending, Pending):
                raise InvalidFeedbackError(f"{self.verb} something first, then say whether it was right.")
            if pending.stored_id:
                raise InvalidFeedbackError(f"This {self.noun}'s feedback is already stored (record {pending.stored_id}).")
            stored = self.store(pending, correct)
        except USER_ERRORS as exc:
            return {v.status: f"**Not stored:** {exc}"}
        pending.stored_id = stored.id
        return {v.last: pending, v.status: self.desk.confirmation(stored), v.ask: gr.update(visible=False),
                v.correction: gr.update(visible=False)}

    def wire(self, controls: AnswerControls, concurrency_limit: int) -> None:
        """Yes -> `confirm`, No -> the right-answer field, Send -> `correct`: each answers the pending answer,
        the status and the controls' visibility. Private listeners: API callers use /feedback."""
        private = dict(api_visibility="private", concurrency_limit=concurrency_limit, concurrency_id="feedback")
        answered = [self.view.last, controls.status, controls.ask, controls.correction]
        controls.yes.click(self.confirm, [self.view.last], answered, **private)
        controls.no.click(lambda: gr.update(visible=True), None, controls.correction, api_visibility="private",
                          show_progress="hidden", queue=False)
        controls.send.click(self.correct, [self.view.last, controls.right], answered, **private)

    def listen(self, task_input, drawing, buttons: list, uploads: list, concurrency_limit: int,
               sources: list = ()) -> None:
        """Answer on each button and upload, live after each stroke on `drawing`; a cleared upload forgets the
        answer, another task answers the same input again. `sources` pairs each input's sub-tab with the
        input: showing one shows that input's answer (or none), so an answer and its "Is this correct?" are
        always about the input on screen. Every listener is private: API callers have endpoints of their own."""
        shown = self.view.outputs
        answering = dict(fn=self.page_answer, outputs=shown, api_visibility="private",
                         concurrency_limit=concurrency_limit, concurrency_id="recognise")
        for button, source in buttons:
            button.click(inputs=[source, task_input], **answering)
        for upload in uploads:
            upload.upload(inputs=[upload, task_input], **answering)
        # Live: every stroke (and a clear) is judged; while one is judged, only the newest drawing waits.
        drawing.change(self.page_live, [drawing, task_input], shown, api_visibility="private", show_progress="hidden",
                       trigger_mode="always_last", concurrency_limit=concurrency_limit, concurrency_id="recognise")
        quick = dict(api_visibility="private", show_progress="hidden", queue=False)
        for upload in uploads:
            upload.clear(self.forget, None, shown, **quick)
        self.earlier = gr.State(None)
        for tab, source in sources:
            tab.select(self.page_source, [source, task_input, self.view.last, self.earlier], [*shown, self.earlier],
                       api_visibility="private", show_progress="hidden", concurrency_limit=concurrency_limit,
                       concurrency_id="recognise")
        task_input.input(self.page_again, [self.view.last, task_input], shown, api_visibility="private",
                         show_progress="hidden", concurrency_limit=concurrency_limit, concurrency_id="recognise")

    def examples(self, rows: list, upload, task_input, tabs: gr.Tabs, upload_tab: str) -> gr.Examples | None:
        """Pictures to try in one click, `rows` of (path, task name, caption): each is answered as an upload
        is (the same component, checks and handler), on the Upload sub-tab, so the answer is about the picture
        on screen. Never cached: an answer is a session's own (its "Is this correct?")."""
        if not rows:
            return None

        def try_example(image, task) -> dict:
            return {**self.page_answer(image, task), tabs: gr.Tabs(selected=upload_tab)}

        return gr.Examples([[str(path), task] for path, task, _ in rows], [upload, task_input],
                           [*self.view.outputs, tabs], fn=try_example, run_on_click=True, cache_examples=False,
                           example_labels=[caption for _, _, caption in rows], label="Try an example",
                           api_visibility="private")
