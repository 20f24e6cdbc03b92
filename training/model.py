"""The CNN architecture, exactly as the original design specifies it, and nothing else.

Training settings live in `training/train.py`; serving runs the LiteRT copy (`handwriting/runtime.py`).
"""

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)


def build_model(
    num_classes: int, learning_rate: float = 1e-3, name: str = "handwriting_cnn", compile: bool = True
) -> keras.Model:
    """The original CNN: three conv blocks with batch norm and dropout, a softmax head.

    Compiled with Adam and sparse categorical cross-entropy, as in the original (`compile=False` for a
    copy that only serves or is nested in another model).
    """
    model = keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(32, 5, strides=2, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.4),
            layers.Conv2D(64, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(64, 5, strides=2, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.4),
            layers.Flatten(),
            layers.Dropout(0.4),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name=name,
    )
    if compile:
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    return model
