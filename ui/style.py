"""The page's look: CSS and theme (Gradio 6 takes both at `launch()`)."""

import gradio as gr

# Look-alike characters must look different on the page (I, l and 1 are one glyph in the default font)
# and pictures of what the model saw stay crisp.
CSS = """
[id$='-label'] .output-class, [id$='-label'] .label, .glyph { font-family: 'IBM Plex Mono', ui-monospace, monospace; }
figure.model-input { display: inline-block; margin: 4px 8px 4px 0; text-align: center; }
figure.model-input img { width: 84px; height: 84px; image-rendering: pixelated; border-radius: 4px; }
[id$='-seen'] figure.model-input img { width: 112px; height: 112px; }
figure.model-input figcaption { font-size: var(--text-sm); max-width: 140px; }
.read-text { font-size: 2.6em; font-weight: 700; letter-spacing: 0.08em; line-height: 1.2; }
.read-text .unsure { color: #b45309; text-decoration: underline wavy #d97706; text-underline-offset: 0.15em; }
.read-note { font-size: var(--text-sm); color: var(--body-text-color-subdued); }
table.read-characters tr.unsure td { color: #b45309; }
"""


def theme() -> gr.themes.Base:
    """The system's sans-serif, whose bold matches its regular: the theme's web font is not always
    reachable, and its bold then fell back to a larger font."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"])
