"""The drawing game: its rules (`rules`), the rounds being played (`rounds`) and the high scores
(`high_scores`). No Gradio here: the Game tab and the /game_* endpoints are in `ui.game`."""

from handwriting.game.high_scores import HighScore, HighScores
from handwriting.game.round import Round
from handwriting.game.rounds import Game
from handwriting.game.rules import (
    MAX_NAME,
    ROUND_LENGTHS,
    GameError,
    ModeUnavailableError,
    RoundNotFoundError,
    RoundOverError,
    available_modes,
    canonical_mode,
    modes,
    unavailable_reason,
)

__all__ = ["MAX_NAME", "ROUND_LENGTHS", "Game", "GameError", "HighScore", "HighScores",
           "ModeUnavailableError", "Round", "RoundNotFoundError", "RoundOverError", "available_modes",
           "canonical_mode", "modes", "unavailable_reason"]
