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
#intro p.intro-more { margin-top: 0; }
/* A phone: the pad, the answer and its top 3 (the game's target, pad and Submit) on the first screen. */
@media (max-width: 640px) {
  .gradio-container { padding-left: 6px !important; padding-right: 6px !important; }
  #intro h1 { font-size: 1.5em; margin: 0 0 2px; }
  #intro p { margin: 0; font-size: var(--text-md); }
  #intro p.intro-more { display: none; }
  #digits-sketch .pad, #letters-sketch .pad, #game-sketch .pad { max-width: 240px; }
  #digits-predict-draw, #letters-predict-draw { display: none; }
  [id$='-task'] .wrap { gap: 4px; }
  [id$='-task'] .wrap label { padding: 2px 8px; }
  [id$='-label'] .output-class { font-size: 2.2em; padding: 4px 0; }
  #game-target-char { font-size: 3em !important; }
  #game-target .target-prompt { display: none; }
}
"""


def theme() -> gr.themes.Base:
    """The system's sans-serif, whose bold matches its regular: the theme's web font is not always
    reachable, and its bold then fell back to a larger font."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"])
