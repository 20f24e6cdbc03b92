"""What the Game tab shows, as text and HTML: the target, the clock, the verdict, the end-of-round report and the
high-score table (player names are escaped: they are data, never markup)."""

from __future__ import annotations

import html

import numpy as np

from handwriting.game import available_modes
from handwriting.game.rules import JUDGED_FROM, MIN_ANSWER_S, MIN_SPREAD, modes
from handwriting.tasks import TASKS, get_task, unambiguous_name
from ui.pictures import model_input_html



def mode_choices() -> tuple[list[tuple[str, str]], str]:
    """The playable modes for the page's radio ([(title, mode)]) and a note naming those not playable yet."""
    playable = available_modes()
    missing = [get_task(m).title for m in modes() if m not in playable]
    note = f"{' and '.join(missing)}: coming soon, when their models are ready." if missing else ""
    return [(get_task(m).title, m) for m in playable], note


def target_html(target: str) -> str:
    return (
        "<div style='text-align:center'><div class='target-prompt'>Draw this</div>"
        f"<div id='game-target-char' class='glyph' style='font-size:5em;font-weight:700;line-height:1.1'>{html.escape(target)}</div>"
        f"<div id='game-target-name'>{html.escape(unambiguous_name(target))}</div></div>"
    )


def clock_markdown(remaining: float) -> str:
    return f"**{int(np.ceil(max(0.0, remaining)))}** s left"


def score_markdown(state: dict) -> str:
    return (f"Score **{state['score']}** · streak **{state['streak']}** · "
            f"{state['right']} right of {state['drawn']} drawn")


def verdict_markdown(verdict: dict) -> str:
    if verdict is None:
        return ""
    if verdict["skipped"]:
        return f"Skipped **{verdict['target']}**: the streak starts again."
    if verdict["right"] and verdict.get("unscored"):
        why = ("this drawing was already used in this round" if verdict["unscored"] == "repeat"
               else "that was faster than anyone can draw")
        text = f"✓ **{unambiguous_name(verdict['target'])}**, but {why}: no points."
    elif verdict["right"]:
        text = (f"✓ **{unambiguous_name(verdict['target'])}** in {verdict['seconds']:.1f} s, the model {verdict['confidence']:.0%} sure: "
                f"**+{verdict['points']}**")
    else:
        text = (f"✗ Asked for **{unambiguous_name(verdict['target'])}**, the model saw **{unambiguous_name(verdict['predicted'])}** "
                f"({verdict['predicted_confidence']:.0%} sure; {verdict['target']}: {verdict['confidence']:.0%})")
    return text


def report_markdown(mode: str, summary: dict) -> str:
    lines = [f"### Round over: **{summary['score']}** points"]
    facts = [f"{summary['right']} right of {summary['drawn']} drawn"]
    if summary["skipped"]:
        facts.append(f"{summary['skipped']} skipped")
    facts.append(f"best streak {summary['best_streak']}")
    if summary["mean_seconds_right"] is not None:
        facts.append(f"{summary['mean_seconds_right']:.1f} s per right answer")
    lines.append(" · ".join(facts))
    if summary["high_score_rank"]:
        lines.append(f"Number **{summary['high_score_rank']}** in the {get_task(mode).title.lower()} high scores.")
    elif summary.get("held_back"):
        lines.append(f"Held back from the high scores: {summary['held_back']}.")
    if summary["kept_for_training"]:
        lines.append(f"{summary['kept_for_training']} drawings kept to train better models: thank you!")
    if not summary["drawn"]:
        lines.append("Nothing was drawn in this round: start another and draw the character shown.")
    else:
        lines.append("The drawings the model got wrong are below, with what it saw." if summary["misses"]
                     else "The model got every drawing right.")
    return "\n\n".join(lines)


def misses_html(rnd) -> str:
    """The round's failed drawings as the model saw them (28x28 shown at 84 px, crisp), each captioned;
    nothing at all when there were none."""
    figures = "".join(
        model_input_html(attempt.image, f"asked {unambiguous_name(attempt.target)}, saw "
                         f"{unambiguous_name(attempt.predicted)} ({attempt.predicted_confidence:.0%})")
        for attempt in rnd.misses if attempt.image is not None)
    return (f"<div class='game-misses'><h4>What the model saw instead</h4>{figures}</div>") if figures else ""


def table_rules_markdown(per_client: int) -> str:
    """The high-score table's fair-play limits, said on the page next to it (`per_client`: rounds one
    address keeps in a day's table, 0 for no limit)."""
    best = "its best round" if per_client == 1 else f"its best {per_client} rounds"
    return " ".join(part for part in [
        f"**Fair play.** The table is for people drawing. An answer sooner than {MIN_ANSWER_S:.1f} s after its "
        "character appeared, or a drawing the round has already seen, scores nothing. Once a round has "
        f"{JUDGED_FROM} scoring answers, it is held back from the table (you still see its score, and why) if "
        f"their times varied less than {MIN_SPREAD:.0%} from one character to the next, as a program at a steady "
        "pace does and people do not.",
        f"Each address keeps only {best} of the day in each table." if per_client > 0 else "",
        "A program that draws new characters with a person's pace and unevenness can still score like the "
        "quickest person" + (", within that limit." if per_client > 0 else ".")] if part)


def high_scores_html(mode: str, entries) -> str:
    """The table of a mode's best rounds; names are escaped (a name is text, never markup)."""
    title = f"<h3>High scores: {html.escape(TASKS[mode].title.lower() if mode in TASKS else str(mode))}</h3>"
    if not entries:
        return title + "<p>No scores yet: be the first!</p>"
    rows = "".join(
        f"<tr><td>{e.rank}</td><td class='game-name'>{html.escape(e.name) if e.name else '<i>anonymous</i>'}</td>"
        f"<td>{e.score}</td><td>{e.right}/{e.drawn}</td><td>{e.best_streak}</td><td>{e.seconds} s</td>"
        f"<td>{html.escape(e.created_at[:10])}</td></tr>"
        for e in entries
    )
    return (f"{title}<table class='game-high-scores'><thead><tr><th>#</th><th>Name</th><th>Score</th><th>Right</th>"
            f"<th>Best streak</th><th>Round</th><th>Date</th></tr></thead><tbody>{rows}</tbody></table>")
