"""The model card (README.md of a model folder), written from the measured metrics, never by hand.

It follows the Hugging Face hub's conventions: a YAML metadata header (library, data sets, metrics in
`model-index` form) and then the card text.
"""

from __future__ import annotations

ARCHITECTURE = """\
The original design's CNN, unchanged (`handwriting/model.py`):
Conv2D(32, 3, relu) on 28x28x1 -> MaxPooling2D -> Conv2D(32, 3, relu) -> BN ->
Conv2D(32, 5, stride 2, same, relu) -> BN -> Dropout(0.4) -> Conv2D(64, 3, relu) -> BN ->
Conv2D(64, 3, relu) -> BN -> Conv2D(64, 5, stride 2, same, relu) -> BN -> Dropout(0.4) ->
Flatten -> Dropout(0.4) -> Dense(classes, softmax). Adam, sparse categorical cross-entropy."""

DATASET_IDS = {"mnist_test": "mnist", "usps": "usps", "hw62_digits": "hw62_dev"}
RESULT_NAMES = {
    "mnist_test": "MNIST test",
    "usps": "USPS (train split, evaluation only)",
    "hw62_digits": "hw62_dev digit photos (evaluation only)",
}


def _percent(value) -> str:
    return f"{value:.2%}" if isinstance(value, float) else str(value)


def headline(metrics: dict) -> str:
    """One line of the figures people ask about first, for the app's model panel."""
    parts = [f"{RESULT_NAMES.get(k, k).split(' (')[0]} {v['accuracy']:.2%}" for k, v in metrics["results"].items()]
    return ", ".join(parts)


def _yaml_header(metrics: dict) -> str:
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


def _results_table(metrics: dict) -> str:
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
        rows.append(f"| one original CNN (member {i}, seed {member['settings']['seed']}, best epoch {member['best_epoch']}) | {cells} |")
    cells = " | ".join(f"**{metrics['results'][n]['accuracy']:.2%}**" for n in names)
    rows.append(f"| mean of the {len(training['members'])} (this model) | {cells} |")
    return (
        f"\n\nThis model averages the softmax outputs of {len(training['members'])} copies of the original CNN, "
        "each trained as above with its own seed (`python -m training.ensemble`). A single copy is the "
        "baseline; averaging is what takes MNIST test past 99.6%:\n\n" + "\n".join(rows)
    )


def _reproduce(metrics: dict, training: dict) -> str:
    task = metrics["task"]
    if training.get("kind") != "ensemble":
        return (f"Reproduce: `python -m training.train {task} --data-dir ../shared/datasets` (writes this folder, "
                "then runs the evaluation that writes this card).")
    lines = [f"python -m training.train {task} --epochs {m['settings']['epochs']} --seed {m['settings']['seed']} "
             f"--out-dir runs/{task}_s{m['settings']['seed']}" for m in training["members"]]
    seeds = " ".join(f"runs/{task}_s{m['settings']['seed']}" for m in training["members"])
    lines.append(f"python -m training.ensemble {task} {seeds} --out models/{task}")
    return "Reproduce (each member also writes its own card; the last step evaluates and writes this one):\n\n```\n" + "\n".join(lines) + "\n```"


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
        f"- Trained in {training.get('training_seconds', '?')} s on a 2-core CPU machine ({training.get('trained_at', '?')}, "
        f"TensorFlow {training.get('tensorflow', '?')}, Keras {training.get('keras', '?')})."
        if training
        else "- See training.json."
    )
    training_text += _ensemble_text(metrics, training)
    confusions = "\n".join(f"![{name}](confusion_{name}.png)" for name in results)
    return f"""{_yaml_header(metrics)}

# Handwriting recognition: {metrics['task']} model, version {metrics['version']}

Recognises handwritten {metrics['task']} ({', '.join(metrics['labels'])}) in the handwriting demo app: a
drawing on its sketchpad or an uploaded photo, normalised by `handwriting.preprocessing.to_model_input`
into the 28x28 white-on-black format MNIST uses. Input: {metrics['input']}.

## Results

Measured by `python -m training.evaluate {metrics['task']}` on {metrics['evaluated_at']}, on data the model never
trained on; USPS and the photos go through the same preprocessing as user uploads.

{_results_table(metrics)}

Weakest classes on MNIST test: {_worst_classes(metrics, 'mnist_test')}.
{"Weakest on USPS: " + _worst_classes(metrics, 'usps') + "." if 'usps' in results else ""}

{confusions}

## Architecture

{ARCHITECTURE}

This is the baseline architecture of the original design; any later change must beat it on these sets.

## Training

{training_text}

{_reproduce(metrics, training)}

## Limitations

- It always answers with one of its {len(metrics['labels'])} classes: a letter, a scribble or a face gets a digit,
  sometimes with high confidence. Softmax confidence is a weak "not a digit" signal.
- MNIST writers are American Census employees and students; other styles (a crossed 7, a European 1 with a
  long flag, a 9 with a straight stem) are rarer in training and less reliable.
- Photos need the character to be the main dark (or light) thing in the picture; several characters,
  ruled lines or heavy shadows confuse the ink detection.
"""
