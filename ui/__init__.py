"""The app's Gradio edge: the pages, their handlers, the custom components and the public endpoints.

Everything here calls the library (`handwriting`); nothing in the library imports this package.

- `recognition`: `/predict`, `/predict_sketch`, `/predict_batch`, `/model_info`, and the Digits / Letters tabs
- `feedback`: `/feedback`, and the one place an input becomes a stored feedback record
- `game`: the `/game_*` endpoints and the Game tab
- `inputs`: upload and drawing components that hand raw uploads to the shared preprocessing
- `server`: Gradio request handling the app changes (refusals, sessions, start-up on launch)
- `style`: the page's CSS and theme
"""
