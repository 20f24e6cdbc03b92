"""The model card (README.md of a model folder), written from the measured metrics, never by hand.

It follows the Hugging Face hub's conventions: a YAML metadata header (library, data sets, metrics in
`model-index` form) and then the card text.
"""

from __future__ import annotations

from pathlib import Path

ARCHITECTURE = """\
The original design's CNN, unchanged (`handwriting/model.py`):
Conv2D(32, 3, relu) on 28x28x1 -> MaxPooling2D -> Conv2D(32, 3, relu) -> BN ->
Conv2D(32, 5, stride 2, same, relu) -> BN -> Dropout(0.4) -> Conv2D(64, 3, relu) -> BN ->
Conv2D(64, 3, relu) -> BN -> Conv2D(64, 5, stride 2, same, relu) -> BN -> Dropout(0.4) ->
Flatten -> Dropout(0.4) -> Dense(classes, softmax). Adam, sparse categorical cross-entropy."""

DATASET_IDS = {"mnist_test": "mnist", "usps": "usps", "hw62_digits": "hw62_dev", "hw62_letters": "hw62_dev",
               "hw62_all": "hw62_dev", "emnist_val": "emnist"}
RESULT_NAMES = {
    "mnist_test": "MNIST test",
    "usps": "USPS (train split, evaluation only)",
    "hw62_digits": "hw62_dev digit photos (evaluation only)",
    "hw62_letters": "hw62_dev letter photos (evaluation only)",
    "hw62_all": "hw62_dev photos, all 62 classes (evaluation only)",
    "emnist_val": "EMNIST validation tenth (held out, same writers as training)",
}


def _percent(value) -> str:
    return f"{value:.2%}" if isinstance(value, float) else str(value)


def headline(metrics: dict) -> str:
    """One line of the figures people ask about first, for the app's model panel."""
    parts = [f"{RESULT_NAMES.get(k, k).split(' (')[0]} {v['accuracy']:.2%}" for k, v in metrics["results"].items()]
    return ", ".join(parts)


def _yaml_header(metrics: dict, training: dict | None = None) -> str:
    emnist = ["- emnist"] if (training or {}).get("kind") == "emnist" else []
    lines = [
        "---",
        "library_name: keras",
        "license: mit",
        "pipeline_tag: image-classification",
        "tags:",
        "- handwriting",
        "- mnist",
        f"- {metrics['task']}",
        "datasets:",
        "- mnist",
        *emnist,
        "metrics:",
        "- accuracy",
        "model-index:",
        f"- name: handwriting-{metrics['task']}",
        "  results:",
    ]
    for name, result in metrics["results"].items():
        lines += [
            "  - task:",
            "      type: image-classification",
            "    dataset:",
            f"      name: {RESULT_NAMES.get(name, name)}",
            f"      type: {DATASET_IDS.get(name, name)}",
            "    metrics:",
            "    - type: accuracy",
            f"      value: {result['accuracy']:.4f}",
            "    - type: top-3 accuracy",
            f"      value: {result['top3_accuracy']:.4f}",
        ]
    lines.append("---")
    return "\n".join(lines)


def _character_tables(metrics: dict) -> str:
    """Letters and all: exact beside case-insensitive accuracy, per group (capitals, lowercase, digits)."""
    rows = ["| evaluation set | group | images | accuracy | case-insensitive | look-alikes folded | top-3 |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for name, r in metrics["results"].items():
        refused = f" ({r['refused']} refused as blank)" if r.get("refused") else ""
        rows.append(f"| {RESULT_NAMES.get(name, name)} | all | {r['n']}{refused} | **{r['accuracy']:.2%}** | "
                    f"**{r['case_insensitive_accuracy']:.2%}** | {r['lookalike_insensitive_accuracy']:.2%} | {r['top3_accuracy']:.2%} |")
        if len(r.get("groups", {})) > 1:
            for kind, g in r["groups"].items():
                rows.append(f"| | {kind} | {g['n']} | {g['accuracy']:.2%} | {g['case_insensitive_accuracy']:.2%} | | {g['top3_accuracy']:.2%} |")
    return "\n".join(rows)


LOOKALIKE_NOTE = """\
Look-alike characters are a fact of the problem, not only of this model: once preprocessing has scaled a
character to a 20-pixel box, a small "o" and a capital "O" are the same drawing, and so are c/C, k/K, p/P,
s/S, u/U, v/V, w/W, x/X, y/Y, z/Z (and 0/O/o, 1/l/I in the 62-class model). Exact accuracy counts them as
errors; "case-insensitive" counts a/A as one answer; "look-alikes folded" also joins the groups in
`handwriting.tasks.LOOKALIKES`, which the app can use to offer the other reading."""


def _results_table(metrics: dict) -> str:
    if metrics["task"] != "digits":
        return _character_tables(metrics)
    rows = ["| evaluation set | images | accuracy | top-3 accuracy |", "|---|---:|---:|---:|"]
    for name, r in metrics["results"].items():
        refused = f" ({r['refused']} refused as blank)" if r.get("refused") else ""
        rows.append(f"| {RESULT_NAMES.get(name, name)} | {r['n']}{refused} | {r['accuracy']:.2%} | {r['top3_accuracy']:.2%} |")
    return "\n".join(rows)


def _worst_classes(metrics: dict, name: str, k: int = 3) -> str:
    per_class = metrics["results"][name]["per_class_accuracy"]
    worst = sorted(per_class.items(), key=lambda kv: kv[1])[:k]
    return ", ".join(f"'{c}' {a:.1%}" for c, a in worst)


def _ensemble_text(metrics: dict, training: dict) -> str:
    """For an averaged model: what it is made of, and each member's own scores (the baseline)."""
    if training.get("kind") != "ensemble":
        return ""
    names = list(metrics["results"])
    rows = [
        "| model | " + " | ".join(RESULT_NAMES.get(n, n).split(" (")[0] for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for i, member in enumerate(training["members"]):
        scores = member.get("results", {})
        cells = " | ".join(f"{scores[n]:.2%}" if n in scores else "-" for n in names)
        kind = "the same CNN, from other hands (`training.train_digit_member`)" if member.get("command") else "one original CNN"
        rows.append(f"| {kind} (member {i}, seed {member['settings']['seed']}, best epoch {member['best_epoch']}) | {cells} |")
    cells = " | ".join(f"**{metrics['results'][n]['accuracy']:.2%}**" for n in names)
    rows.append(f"| mean of the {len(training['members'])} (this model) | {cells} |")
    own = [i for i, m in enumerate(training["members"]) if m.get("command")]
    recipe = ("each trained as above with its own seed" if not own else
              f"each trained with its own seed, as above; member{'s' if len(own) > 1 else ''} "
              f"{', '.join(map(str, own))} on the data named above with its own recipe (its command is under Reproduce)")
    return (
        f"\n\nThis model averages the softmax outputs of {len(training['members'])} copies of the original CNN, "
        f"{recipe} (`python -m training.ensemble`). A single copy is the "
        "baseline (exact top-1 accuracy of each):\n\n" + "\n".join(rows)
    )


def _reproduce(metrics: dict, training: dict) -> str:
    task = metrics["task"]
    if task != "digits":
        return _reproduce_characters(metrics, training)
    if training.get("kind") == "none_unit":
        st = training["settings"]
        return ("Reproduce:\n\n```\npython -m training.emnist_cache --data-dir ../shared/datasets\n"
                f"python -m training.train_refusal {task} --out models/{task} --epochs {st['epochs']} --batch-size "
                f"{st['batch_size']} --learning-rate {st['learning_rate']:g} --decay {st['lr_decay_per_epoch']:g} "
                f"--seed {st['seed']}" + (f" --emnist-digits {st['emnist_digits']}" if st.get("emnist_digits") else "")
                + f"\npython -m training.evaluate_refusal {task} --model-dir models/{task} --calibrate "
                f"{(metrics.get('refusal') or {}).get('policy', {}).get('method', 'none')}\n"
                f"python -m training.evaluate {task} --data-dir ../shared/datasets --version {metrics['version']}\n```")
    if training.get("kind") != "ensemble":
        return (f"Reproduce: `python -m training.train {task} --data-dir ../shared/datasets` (writes this folder, "
                "then runs the evaluation that writes this card).")
    def out_of(m: dict) -> str:
        return m["command"].split("--out ")[1].split()[0] if m.get("command") else f"runs/{task}_s{m['settings']['seed']}"

    lines = [m["command"] if m.get("command") else
             f"python -m training.train {task} --epochs {m['settings']['epochs']} --seed {m['settings']['seed']} "
             f"--out-dir {out_of(m)}" for m in training["members"]]
    lines.append(f"python -m training.ensemble {task} {' '.join(out_of(m) for m in training['members'])} --out models/{task}")
    lines += _none_head_lines(metrics, training)
    if training.get("none_unit"):
        lines.append(f"python -m training.evaluate {task} --data-dir ../shared/datasets --version {metrics['version']}")
    return "Reproduce (each member also writes its own card; the last step evaluates and writes this one):\n\n```\n" + "\n".join(lines) + "\n```"


def _emnist_networks(training: dict) -> list[dict]:
    """The records of the EMNIST-trained networks a letters/all model is made of (itself, or every member of an
    average); [] when any part learnt otherwise (the font-only 1.0.0 models)."""
    if training.get("kind") == "emnist":
        return [training]
    members = training.get("members") or []
    return members if training.get("kind") == "ensemble" and all(m.get("kind") == "emnist" for m in members) else []


def _reproduce_characters(metrics: dict, training: dict) -> str:
    """Letters and all: fetch the pinned fonts, render the synthetic cache once, then train (and average)."""
    task = metrics["task"]
    if _emnist_networks(training):
        return _reproduce_emnist(metrics, training)
    if "settings" not in training and training.get("kind") != "ensemble":
        return "Reproduce: see training.json."
    members = training["members"] if training.get("kind") == "ensemble" else [training]
    lines = ["scripts/fetch_fonts.sh                       # pinned fonts -> data/fonts (manifest.json)",
             "python -m training.synthetic --per-class 2000 --seed 0   # -> data/synthetic/synthetic_pc2000_s0.npz"]
    lines += [f"python -m training.train {task} --data-dir ../shared/datasets --epochs {m['settings']['epochs']} "
              f"--seed {m['settings']['seed']} --out-dir runs/{task}_s{m['settings']['seed']}" for m in members]
    if training.get("kind") == "ensemble":
        seeds = " ".join(f"runs/{task}_s{m['settings']['seed']}" for m in members)
        lines.append(f"python -m training.ensemble {task} {seeds} --out models/{task} --data-dir ../shared/datasets")
    else:
        lines.append(f"cp -r runs/{task}_s{members[0]['settings']['seed']}/. models/{task}/")
    return "Reproduce (the evaluation that writes this card runs at the end of each step):\n\n```\n" + "\n".join(lines) + "\n```"


def _none_head_lines(metrics: dict, training: dict) -> list[str]:
    """The steps that give a trained network its "none" unit (training.refusal_head) and calibrate it."""
    head = training.get("none_unit")
    if not head or "head" not in head:
        return []
    if head.get("trained_by"):  # trained again by a retrain, with its feedback: only that command makes it again
        return [f"# the none unit was trained again, with the feedback, by: {head['trained_by']}"]
    task = metrics["task"]
    method = (metrics.get("refusal") or {}).get("policy", {}).get("method", "none")
    run = head.get("out", "runs/none_head")
    base = "runs/served_digits" if task == "digits" else "runs/served_all"  # not a member's folder: those stay
    flags = "".join([" --rich" if head.get("rich_features") else "", " --augmented" if head.get("augmented") else "",
                     " --augment-negatives" if head.get("augment_negatives") else "",
                     " --balanced" if head.get("balanced") else "", " --pixels" if head.get("pixels") else "",
                     f" --styles {' '.join(head['styles'])}" if head.get("styles") else "",
                     f" --doodles {head['doodles']}" if head.get("doodles", 34000) != 34000 else "",
                     f" --doodles-from {head['doodles_from']}" if head.get("doodles_from", "train") != "train" else "",
                     " --task digits" if task == "digits" else ""])
    copies = [f"python -m training.served_network models/{t} --out runs/served_{t}   # the network(s) above, without "
              "the none unit" for t in dict.fromkeys([task, "all" if task == "letters" else task])]
    return [*copies,
            f"python -m training.refusal_head train --base {base} --out {run}{flags}",
            f"python -m training.refusal_head assemble {run} --task {task} --base runs/served_{task} --out models/{task}",
            f"python -m training.evaluate_refusal {task} --model-dir models/{task} --validation {run} --calibrate {method}"]


def _train_command(s: dict, out: str) -> str:
    extra = "".join([f" --synthetic data/synthetic/{s['synthetic']}" if s.get("synthetic") else "",
                     f" --init {s['init']}" if s.get("init") else "", f" --thin {s['thin']:g}" if s.get("thin") else "",
                     f" --restyled-share {s['restyled_share']:g}" if s.get("restyled_share") else ""])
    return (f"python -m training.train_emnist train --out {out} --epochs {s['epochs']} --learning-rate {s['learning_rate']:g} "
            f"--decay {s['lr_decay_per_epoch']:g} --ambiguous {s['ambiguous']} --width {s['width']:g} --seed {s['seed']}{extra}")


EMNIST_CACHE_LINE = ("python -m training.emnist_cache --data-dir ../shared/datasets   # -> data/emnist/preprocessed.npz "
                     "(about 3 min, 2 processes)")
FONT_LINES = ["scripts/fetch_fonts.sh                       # pinned fonts -> data/fonts (manifest.json)",
              "python -m training.synthetic --per-class 2000 --seed 0   # -> data/synthetic/synthetic_pc2000_s0.npz"]


def _emnist_network_lines(training: dict, task: str, out: str) -> list[str]:
    """Train one 62-class network (after the run it was warm-started from, if any) and assemble it for `task`."""
    lines = []
    first = training.get("init_run")
    if first:
        stopped = f"   # {first['note']}" if first.get("note") else ""
        lines.append(_train_command(first["settings"], first["folder"]) + stopped)
    run = Path(training.get("training_run", "runs/emnist/cnn")).as_posix()
    return lines + [_train_command(training["settings"], run),
                    f"python -m training.train_emnist assemble {run} --task {task} --prior-power "
                    f"{training.get('prior_power', 1):g} --out {out}"]


def _reproduce_emnist(metrics: dict, training: dict) -> str:
    """Each EMNIST network trained and assembled: straight into models/<task>, or, for an average, into its
    member's own folder and then averaged."""
    task, networks = metrics["task"], _emnist_networks(training)
    averaged = training.get("kind") == "ensemble"
    lines = [EMNIST_CACHE_LINE] + (FONT_LINES if any(n["settings"].get("synthetic") for n in networks) else [])
    for n in networks:
        lines += _emnist_network_lines(n, task, n["folder"] if averaged else f"models/{task}")
    if averaged:
        lines.append(f"python -m training.ensemble {task} {' '.join(n['folder'] for n in networks)} --out models/{task} "
                     "--data-dir ../shared/datasets")
    lines += _none_head_lines(metrics, training)
    lines.append(f"python -m training.evaluate {task} --data-dir ../shared/datasets --version {metrics['version']}")
    return ("Reproduce (the last step evaluates and writes this card):" if averaged else "Reproduce:") + \
        "\n\n```\n" + "\n".join(lines) + "\n```"


def _recipes_text(training: dict) -> str:
    """What was tried, as measured (hw62_dev and the EMNIST validation tenth), and what it taught."""
    recipes, findings = training.get("recipes"), training.get("findings")
    if not recipes and not findings:
        return ""
    out = ["## What was tried"]
    if recipes:
        out += ["", "Each row measured on the same sets (hw62_dev through the upload preprocessing; the EMNIST validation "
                "tenth with exact labels). hw62_dev chose between these few finished recipes and nothing else: no weight "
                "was fitted to it.", "",
                "| recipe | hw62 top-1 | case-insensitive | top-3 | capitals | lowercase | digits | EMNIST validation |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in recipes:
            cells = [_percent(r.get(k)) if r.get(k) is not None else "-" for k in
                     ("top1", "ci", "top3", "capitals", "lowercase", "digits", "emnist_val")]
            out.append(f"| {r['recipe']} | " + " | ".join(cells) + " |")
    if findings:
        out += [""] + [f"- {f}" for f in findings]
    return "\n".join(out) + "\n"


def _measured_on(metrics: dict) -> str:
    if metrics["task"] == "digits":
        return "trained on; USPS and the photos go through the same preprocessing as user uploads."
    return "trained on; the photos go through the same preprocessing as user uploads."


def _case_only_errors(result: dict, labels) -> str:
    confusion = result["confusion"]
    n = len(labels)
    errors = sum(confusion[i][j] for i in range(n) for j in range(n) if i != j)
    case = sum(confusion[i][j] for i in range(n) for j in range(n)
               if i != j and labels[i].isalpha() and labels[i].lower() == labels[j].lower())
    return (f"Of its {errors} errors, {case} ({case / result['n']:.1%} of the set) only get the case wrong; "
            f"{errors - case} ({(errors - case) / result['n']:.1%}) read another character.")


def _weakest_text(metrics: dict) -> str:
    results = metrics["results"]
    if metrics["task"] == "digits":
        return (f"Weakest classes on MNIST test: {_worst_classes(metrics, 'mnist_test')}.\n"
                + ("Weakest on USPS: " + _worst_classes(metrics, 'usps') + "." if 'usps' in results else ""))
    name = next(iter(results))
    return (f"Weakest classes on {RESULT_NAMES.get(name, name).split(' (')[0]}: {_worst_classes(metrics, name, 8)}. "
            f"{_case_only_errors(results[name], metrics['labels'])}\n\n" + LOOKALIKE_NOTE)


DIGIT_LIMITATIONS = """## Limitations

- It always answers with one of its {classes} classes: a letter, a scribble or a face gets a digit,
  sometimes with high confidence. Softmax confidence is a weak "not a digit" signal.
- MNIST writers are American Census employees and students; other styles (a crossed 7, a European 1 with a
  long flag, a 9 with a straight stem) are rarer in training and less reliable.
- Photos need the character to be the main dark (or light) thing in the picture; several characters, a
  ruled line that touches the character or heavy shadows confuse the ink detection (a line clear of it is
  dropped).
"""

# What every letters/all card says, whatever the model learnt from (appended to both texts below).
_CHARACTER_LIMITS = """- Upper and lower case that differ only in size cannot be told apart from a single character: use the
  case-insensitive figure, or the look-alike groups, when the case does not matter.
- It always answers with one of its {classes} classes, even for a scribble; softmax confidence is a weak
  "not a character" signal.
- Photos need the character to be the main dark (or light) thing in the picture; several characters, a
  ruled line that touches the character or heavy shadows confuse the ink detection (a line clear of it is
  dropped).
"""

CHARACTER_LIMITATIONS = """## Limitations

- Trained on synthetic handwriting (fonts and stroke fonts drawn with a wobbling pen, `training.synthetic`){mnist}:
  no real handwritten letter was seen in training. Letter shapes no font draws (an "r" written like an "n",
  looped or crossed variants) are the main source of error beyond the look-alike pairs above.
""" + _CHARACTER_LIMITS


EMNIST_LIMITATIONS = """## Limitations

- Learnt from EMNIST (NIST Special Database 19: forms filled in by American Census employees and high-school
  students, scanned){mnist}. Its letters are real handwriting, but scanned and blurred, in the proportions
  those forms had; photos and sketchpad strokes differ in stroke and style (hw62_dev measures that gap).
- The EMNIST validation figure shares writers with the training part: it is not a real-world figure.
""" + _CHARACTER_LIMITS


REFUSAL_LIMIT_DIGITS = """- It answers "?" for most letters and doodles (figures above), but not all: a drawing that looks like a
  digit (an O, an l, a Z, a circle, a line) is answered as that digit, and doodles of kinds unlike any it was
  shown are refused less often.\n"""
REFUSAL_LIMIT = """- It answers "?" for most doodles (figures above), but not all: a drawing that looks like a character
  (a circle, a line, a cross, a check mark like a v) is answered as that character.\n"""


def _limitations(metrics: dict, training: dict | None = None) -> str:
    text = _limitations_text(metrics, training)
    if not metrics.get("refusal"):
        return text
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if "It always answers" in line)
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")) if start + 1 < len(lines) else start + 1
    return "".join(lines[:start]) + (REFUSAL_LIMIT_DIGITS if metrics["task"] == "digits" else REFUSAL_LIMIT) + "".join(lines[end:])


def _limitations_text(metrics: dict, training: dict | None = None) -> str:
    classes = len(metrics["labels"])
    if metrics["task"] == "digits":
        return DIGIT_LIMITATIONS.format(classes=classes)
    if _emnist_networks(training or {}):
        mnist = " and the MNIST training digits" if metrics["task"] == "all" else ""
        if any(m.get("settings", {}).get("synthetic") for m in _emnist_networks(training)):
            mnist += ", plus the project's synthetic font renders (`training.synthetic`)"
        return EMNIST_LIMITATIONS.format(classes=classes, mnist=mnist)
    mnist = " and real MNIST digits" if metrics["task"] == "all" else ""
    return CHARACTER_LIMITATIONS.format(classes=classes, mnist=mnist)


REFUSAL_NAMES = {
    "mnist_test": "MNIST test", "mnist_test_upload": "MNIST test through the upload preprocessing",
    "usps": "USPS (evaluation only)", "hw62_digits": "hw62_dev digit photos", "hw62_letters": "hw62_dev photos",
    "hw62_all": "hw62_dev photos", "emnist_val": "EMNIST validation tenth",
    "doodles": "doodles of families never trained on", "emnist_val_letters": "EMNIST validation letters",
    "emnist_val_canvas": "EMNIST validation tenth re-drawn on the sketchpad (check: the thresholds are set on this tenth)",
    "emnist_val_photo": "EMNIST validation tenth photographed (check: the thresholds are set on this tenth)",
}


def _refusal_text(metrics: dict, training: dict) -> str:
    """What the "?" answer does on data never trained on: real characters refused (must be rare) and
    negatives refused (letters that look like no digit, doodles), with the policy that does it."""
    refusal = metrics.get("refusal")
    if not refusal:
        return ""
    policy = refusal["policy"]
    cal = policy.get("calibration", {})
    rule = []
    if policy.get("none_unit") and policy.get("none_threshold", 1) < 1:
        rule.append(f"the \"none\" unit's probability is at least {policy['none_threshold']:.4g}")
    if policy.get("min_confidence", 0) > 0:
        rule.append(f"the most likely character's probability is below {policy['min_confidence']:.4g}")
    rows = ["| real characters | images | refused as \"?\" | accuracy (all) | accuracy (accepted) |", "|---|---:|---:|---:|---:|"]
    for name, r in refusal["real"].items():
        rows.append(f"| {REFUSAL_NAMES.get(name, name)} | {r['n']} | **{r['refused']:.2%}** | {r['accuracy']:.2%} | "
                    f"{r['accepted_accuracy']:.2%} |")
    rows += ["", "| none of the characters | images | refused as \"?\" | by kind |", "|---|---:|---:|---|"]
    for name, r in refusal["negative"].items():
        groups = ", ".join(f"{k} {v:.0%}" for k, v in r.get("by_group", {}).items())
        rows.append(f"| {r['description']} | {r['n']} | **{r['refused']:.1%}** | {groups} |")
    how = (f"calibrated (`training.evaluate_refusal --calibrate {policy.get('method')}`) to refuse at most "
           f"{cal.get('real_refusal_budget', 0):.1%} of a validation split of training data "
           f"({cal.get('validation_real', '?')} real characters: {cal.get('validation_real_refused', 0):.2%} refused; "
           f"{cal.get('validation_negative', '?')} negatives of the training kinds: "
           f"{_percent(cal.get('validation_negative_refused'))} refused)") if cal else "set by hand"
    line = policy.get("in_a_line")
    in_a_line = ("" if not line else
                 " A character the reader finds in a line of writing (the Read tab, `/read`) has its neighbours' "
                 "word for being one, and one \"?\" spoils a whole number: there the same rule refuses only "
                 f"{line.get('real_refusal_budget', 0):.1%} of the validation split's real characters "
                 f"({_percent(line.get('validation_negative_refused'))} of its negatives; `in_a_line` in refusal.json).")
    units = (f"{len(metrics['labels']) + 1} output units: the {len(metrics['labels'])} characters, then \"none\""
             if policy.get("none_unit") else f"{len(metrics['labels'])} output units")
    return f"""## "Not a character": the "?" answer

The model has {units}. A picture is answered "?" (none of this task's characters) when
{' or '.join(rule) or 'never'}; the thresholds were {how}: never on hw62_dev, USPS, MNIST test or the held-out doodles
(the "EMNIST validation" rows below come from the split they were set on). The three closest characters are
still listed. `refusal.json` holds the rule; `handwriting.refusal.decide` applies it.{in_a_line}
Measured by `python -m training.evaluate_refusal {metrics['task']} --model-dir models/{metrics['task']}`:

{chr(10).join(rows)}

"""


def _none_head_text(training: dict) -> str:
    """What the none unit adds to the architecture (training.refusal_head), when the model has one."""
    head = training.get("none_unit")
    if not head or "head" not in head:
        return ""
    return (f"\nThe \"none\" output unit (`training.refusal_head`): {head['head']}. The network itself is frozen: its "
            "character outputs keep their order and their ratios, so the answer among the characters, the top 3 and "
            f"the accuracy above are the network's own. Learnt from: {head['data']}.\n")


def _machine(training: dict) -> str:
    """" on <machine>" as the training record has it (`training.fit.machine`); nothing when it was not recorded."""
    machine = training.get("machine") or (training.get("members") or [{}])[0].get("machine")
    return f" on {machine}" if machine else ""


def render(metrics: dict, training: dict) -> str:
    settings = training.get("settings", {})
    results = metrics["results"]
    training_text = (
        f"- Data: {training.get('data', 'see training.json')} ({training.get('train_size', '?')} images for training).\n"
        f"- Augmentation (training only): rotation up to {settings.get('rotation_deg')} deg, zoom {settings.get('zoom')}, "
        f"shift {settings.get('shift')}, filled with background (never reflections).\n"
        f"- {settings.get('epochs')} epochs, batch {settings.get('batch_size')}, Adam at {settings.get('learning_rate')} "
        f"decaying x{settings.get('lr_decay_per_epoch')} per epoch; the epoch with the best validation accuracy "
        f"was kept (epoch {training.get('best_epoch')}, validation accuracy {_percent(training.get('best_val_accuracy'))}).\n"
        f"- Trained in {training.get('training_seconds', '?')} s{_machine(training)} ({training.get('trained_at', '?')}, "
        f"TensorFlow {training.get('tensorflow', '?')}, Keras {training.get('keras', '?')})."
        if training
        else "- See training.json."
    )
    if training.get("derived"):
        training_text += f"\n- This model: {training['derived']}."
    training_text += _ensemble_text(metrics, training)
    confusions = "\n".join(f"![{name}](confusion_{name}.png)" for name in results)
    return f"""{_yaml_header(metrics, training)}

# Handwriting recognition: {metrics['task']} model, version {metrics['version']}

Recognises handwritten {metrics['task']} ({', '.join(metrics['labels'])}) in the handwriting demo app: a
drawing on its sketchpad or an uploaded photo, normalised by `handwriting.preprocessing.to_model_input`
into the 28x28 white-on-black format MNIST uses. Input: {metrics['input']}.

## Results

Measured by `python -m training.evaluate {metrics['task']}` on {metrics['evaluated_at']}, on data the model never
{_measured_on(metrics)}

{_results_table(metrics)}

{_weakest_text(metrics)}

{_refusal_text(metrics, training)}
{confusions}

## Architecture

{ARCHITECTURE}

This is the baseline architecture of the original design; any later change must beat it on these sets.
{_none_head_text(training)}
## Training

{training_text}

{_recipes_text(training)}

{_reproduce(metrics, training)}

{_limitations(metrics, training)}"""
