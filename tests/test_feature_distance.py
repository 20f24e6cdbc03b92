"""The feature-distance scores and rules of `training.compare_feature_distance`, on made-up feature clouds."""

import numpy as np

from training.compare_feature_distance import BUDGET, distances, rules


def clouds(n=600, seed=0):
    """Two characters: clouds around two centres in 8 dimensions, away from the origin as ReLU features are."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    centres = np.full((2, 8), 10.0)
    centres[1, 0] = 22.0
    return centres[labels] + rng.normal(0, 1, (n, 8)), labels


def test_a_picture_far_from_every_character_or_between_two_scores_farther_than_the_characters_themselves():
    features, labels = clouds()
    score = distances(features, labels, 2)
    s_near = score(clouds(200, seed=1)[0])
    far = np.full((50, 8), 10.0)
    far[:, 1:4] = 30.0  # off to the side of both characters
    between = np.full((50, 8), 10.0)
    between[:, 0] = 16.0  # halfway from one to the other: near the cloud of all characters, far from each
    s_far, s_between = score(far), score(between)
    for key in ("maha", "knn10"):
        assert np.median(s_far[key]) > np.quantile(s_near[key], 0.99), key
    for key in ("maha", "rel_maha"):
        assert np.median(s_between[key]) > np.quantile(s_near[key], 0.99), key


def test_each_rule_refuses_its_budget_of_validation_characters_and_keeps_what_the_served_rule_refuses():
    features, labels = clouds()
    score = distances(features, labels, 2)
    val, _ = clouds(4000, seed=2)
    val_scores = score(val)
    real = np.ones(len(val), bool)
    served = np.zeros(len(val), bool)
    served[:8] = True  # what the served rule refuses of them
    made = rules(val_scores, served, real)
    assert made["served rule"](val_scores, served) is served
    for name, rule in made.items():
        refused = rule(val_scores, served)
        assert refused[:8].all() or name.endswith("alone"), name
        if name.endswith("alone"):
            assert abs(refused.mean() - BUDGET) < 0.002, name
        elif name != "served rule":
            share = float(name.split("+")[1].split(" ")[0])
            assert abs(refused[8:].sum() - share * BUDGET * len(val)) <= 1, name
