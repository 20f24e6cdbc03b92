"""The plain networks inside a served model folder, so training can start again from what is served.

A served model is one `training.model.build_model` network, or an averaged ensemble of several, maybe with a
"none" head beside it (`training.refusal_head`): one flat Keras graph. The runs that built it need not be at
hand (they live in the git-ignored runs/), so this takes the layers back out of the graph: each network's
convolutions, batch norms and character layer, in the order they were made, into fresh `build_model`
networks. The none head is left behind.

    python -m training.served_network models/all --out runs/base_all       # the 62-class network
    python -m training.served_network models/digits --out runs/base_digits # the ensemble, and member_<i>/

Each written folder holds model.keras and the served folder's training.json without its "none_unit" part:
what `training.refusal_head` takes as a base.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from handwriting.model_folder import KERAS_FILE, read_training, write_training

CONV_PER_NETWORK, NORM_PER_NETWORK = 6, 5  # training.model.build_model's layers


def _index(name: str) -> int:
    found = re.search(r"_(\d+)$", name)
    return int(found.group(1)) if found else 0


def plain_networks(folder: Path) -> list:
    """Fresh compiled `build_model` networks holding the weights of each network in `folder/model.keras`."""
    import keras

    from training.model import build_model

    served = keras.saving.load_model(Path(folder) / KERAS_FILE, compile=False)
    layers = [layer for layer in served._flatten_layers(include_self=False, recursive=True)
              if not layer.name.startswith("none_")]  # the none head's own layers (refusal_head.pixel_branch)
    by_kind = {kind: sorted((l for l in layers if type(l) is kind), key=lambda l: _index(l.name))
               for kind in (keras.layers.Conv2D, keras.layers.BatchNormalization)}
    convs, norms = by_kind[keras.layers.Conv2D], by_kind[keras.layers.BatchNormalization]
    # each network's character layer takes its last hidden features (64 wide); the none head's layers do not
    heads = sorted((l for l in layers if type(l) is keras.layers.Dense and l.get_weights()[0].shape[0] == 64),
                   key=lambda l: (l.name != "character_logits", _index(l.name)))
    networks = []
    for i, head in enumerate(heads):
        own_convs = iter(convs[i * CONV_PER_NETWORK:(i + 1) * CONV_PER_NETWORK])
        own_norms = iter(norms[i * NORM_PER_NETWORK:(i + 1) * NORM_PER_NETWORK])
        network = build_model(head.get_weights()[0].shape[1], name=f"network_{i}")
        for layer in network.layers:
            source = {keras.layers.Conv2D: own_convs, keras.layers.BatchNormalization: own_norms}.get(type(layer))
            if source is not None:
                layer.set_weights(next(source).get_weights())
            elif type(layer) is keras.layers.Dense:
                layer.set_weights(head.get_weights())
        networks.append(network)
    return networks


def write_networks(folder: Path, out: Path) -> list:
    """`out/model.keras`: the plain network(s) of the served `folder` (an ensemble's members in member_<i>/ too),
    and its training.json without the "none_unit" part; returns the networks."""
    networks = plain_networks(Path(folder))
    out.mkdir(parents=True, exist_ok=True)
    record = {k: v for k, v in read_training(Path(folder)).items() if k != "none_unit"}
    if len(networks) == 1:
        networks[0].save(out / KERAS_FILE)
    else:
        from training.ensemble import build_ensemble

        for i, network in enumerate(networks):
            (out / f"member_{i}").mkdir(exist_ok=True)
            network.save(out / f"member_{i}" / KERAS_FILE)
        build_ensemble([out / f"member_{i}" / KERAS_FILE for i in range(len(networks))],
                       networks[0].output_shape[-1]).save(out / KERAS_FILE)
    write_training(out, record)
    return networks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="a served model folder (models/all)")
    parser.add_argument("--out", required=True, help="where to write the network (an ensemble's: member_<i>/ in it)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    networks = write_networks(Path(args.folder), out)
    print(f"wrote {out / KERAS_FILE} ({len(networks)} network{'s' if len(networks) > 1 else ''})")


if __name__ == "__main__":
    main()
