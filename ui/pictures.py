"""What the model saw, as HTML: the 28x28 input enlarged with crisp pixels (the Draw tabs, the game)."""

from __future__ import annotations

import html

import numpy as np

from handwriting.feedback.record import encode_png


def model_input_html(x, caption: str = "What the model saw") -> str:
    """The 28x28 model input (white ink on black, as the model was trained; floats in [0, 1] or uint8
    pixels), enlarged with crisp pixels."""
    x = np.asarray(x).reshape(28, 28)
    pixels = x if x.dtype == np.uint8 else np.round(x * 255).astype(np.uint8)
    return (f"<figure class='model-input'><img src='data:image/png;base64,{encode_png(pixels)}' width='112' "
            f"height='112' alt='{html.escape(caption)}: the 28x28 picture the model was given'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")
