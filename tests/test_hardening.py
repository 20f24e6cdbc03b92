"""The security and fault probe's findings (issue 14, D1-D10), each replayed against the real app or the
library; every one of these failed on the code before the fix. benchmarks/probe_limits.py measures the
memory and time of the same attacks."""

from __future__ import annotations

import base64
import sqlite3
import threading
import time
import uuid

import httpx
import numpy as np
import pytest

import imagegen
import rawapi
from handwriting import decoding
from handwriting.feedback import InvalidFeedbackError, make_record
from handwriting.game import Game, GameError, HighScores
from handwriting.preprocessing import InvalidImageError, to_model_input


@pytest.fixture(scope="module")
def seven(tmp_path_factory, mnist_samples):
    """A 7 from the fixture digits as a PNG file outside Gradio's cache, and its bytes."""
    x, y = mnist_samples
    path = tmp_path_factory.mktemp("outside") / "seven.png"
    path.write_bytes(imagegen.encode(imagegen.dark_on_white(x[list(y).index(7)])))
    return path


@pytest.fixture
def http(app_url):
    with httpx.Client(timeout=60) as client:
        yield client, app_url.rstrip("/")


def call(http, name, *args, **kwargs):
    return rawapi.call(*http, name, *args, **kwargs)


def fn_index(name: str, first_input: str | None = None) -> int:
    """The index of the page's listener running `name` (whose first input is a `first_input`, if given)."""
    import app

    return next(i for i, f in app.demo.fns.items() if getattr(f.fn, "__name__", "") == name
                and (first_input is None or type(f.inputs[0]).__name__ == first_input))


# D1: only uploads are opened -------------------------------------------------------------------------

def test_a_path_outside_the_upload_cache_is_never_opened(http, seven, tmp_path):
    from gradio.utils import get_upload_folder

    missing = tmp_path / "nothing-here.png"
    escape = f"{get_upload_folder()}/../{seven.parent.name}/seven.png"
    for existing, absent in ((str(seven), str(missing)), (escape, escape.replace("seven.png", "absent.png"))):
        for form in ({}, {"meta": {"_type": "other"}}, {"meta": {"_type": "gradio.FileData"}}):
            for endpoint, wrap in (("predict", lambda f: f),
                                   ("predict_sketch", lambda f: {"background": None, "layers": [f], "composite": None})):
                said = []
                for path in (existing, absent):
                    with pytest.raises(rawapi.CallError) as refused:
                        call(http, endpoint, wrap({"path": path, **form}), "digits")
                    said.append(str(refused.value))
                assert said[0] == said[1] and ("not an upload" in said[0] or "not in the form" in said[0]), said
    cache_link = f"{get_upload_folder()}/link-{uuid.uuid4().hex}.png"
    import os

    os.symlink(seven, cache_link)
    try:
        with pytest.raises(rawapi.CallError, match="not an upload"):
            call(http, "predict", {"path": cache_link, "meta": {"_type": "gradio.FileData"}}, "digits")
    finally:
        os.unlink(cache_link)


def test_feedback_never_copies_a_local_file(http, seven):
    import app

    before = app.recorder.store.count()
    with pytest.raises(rawapi.CallError, match="not an upload"):
        call(http, "feedback", {"path": str(seven)}, "digits", "7", "7")
    assert app.recorder.store.count() == before
    upload = rawapi.upload(http[0], http[1], seven.read_bytes())
    assert "Stored feedback record" in call(http, "feedback", upload, "digits", "7", "7")  # uploads still work


# D2, D3: memory per request bounded by design -----------------------------------------------------------

def test_a_tiny_file_claiming_a_huge_image_is_refused_from_its_header():
    bomb = imagegen.png_header_bomb(7000, 7000)
    assert len(bomb) < 200
    with pytest.raises(InvalidImageError, match="too large to decode"):
        to_model_input(bomb)
    with pytest.raises(InvalidImageError, match="too large to decode"):
        to_model_input(imagegen.png_header_bomb(4001, 4001))  # just over the 16 MP decode budget
    with pytest.raises(InvalidImageError, match="damaged or incomplete"):
        to_model_input(imagegen.png_header_bomb(3000, 3000))  # within it: decoded (in a slot), then found broken


def test_a_large_picture_is_reduced_before_it_is_flattened_and_still_recognised(mnist_samples):
    """Above LARGE_DECODE pixels the picture is flattened and reduced in one-byte planes: the model input
    is what the ordinary path makes of the same drawing at a size it handles whole."""
    x, y = mnist_samples
    digit = x[list(y).index(3)]
    ink = np.array(imagegen.Image.fromarray(imagegen.dark_on_white(digit, 2400)))
    rgba = np.dstack([np.full_like(ink, 20), np.full_like(ink, 20), np.full_like(ink, 20), 255 - ink])  # ink as alpha
    big = imagegen.encode(rgba)
    small = imagegen.encode(np.array(imagegen.Image.fromarray(rgba).resize((600, 600), imagegen.Image.BOX)))
    assert 2400 * 2400 > decoding.LARGE_DECODE
    a, b = to_model_input(big), to_model_input(small)
    assert np.abs(a - b).mean() < 0.02


def test_large_decodes_run_at_most_two_at_a_time(monkeypatch):
    inside, most = [0], [0]
    lock = threading.Lock()
    real = decoding.pil_to_grey

    def counting(*args):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.2)
        with lock:
            inside[0] -= 1
        return real(*args)

    monkeypatch.setattr(decoding, "pil_to_grey", counting)
    big = imagegen.encode(np.full((1500, 1500), 255, np.uint8))  # 2.25 MP, blank
    threads = [threading.Thread(target=lambda: pytest.raises(InvalidImageError, to_model_input, big)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == decoding.LARGE_DECODE_SLOTS == 2


def test_sketch_layers_are_bounded_before_anything_is_decoded(http):
    bomb = rawapi.upload(*http, imagegen.png_header_bomb(7000, 7000))
    with pytest.raises(rawapi.CallError, match="too large"):
        call(http, "predict_sketch", {"background": None, "layers": [bomb] * 6, "composite": None}, "digits")
    tiny = rawapi.upload(*http, imagegen.encode(np.full((16, 16), 255, np.uint8)))
    with pytest.raises(rawapi.CallError, match="at most 8"):
        call(http, "predict_sketch", {"background": tiny, "layers": [tiny] * 10, "composite": None}, "digits")
    medium = rawapi.upload(*http, imagegen.encode(np.full((2000, 2000), 255, np.uint8)))  # 4 MP: each layer costs it
    with pytest.raises(rawapi.CallError, match="parts add up to 20 megapixels"):
        call(http, "predict_sketch", {"background": medium, "layers": [tiny] * 4, "composite": None}, "digits")


def test_other_image_formats_than_the_documented_ones_are_refused(mnist_samples):
    picture = imagegen.dark_on_white(mnist_samples[0][0])
    for fmt in ("TIFF", "ICO", "PPM"):
        with pytest.raises(InvalidImageError, match="not an image that can be read"):
            to_model_input(imagegen.encode(picture, fmt))
    for fmt in ("PNG", "JPEG", "WEBP", "BMP", "GIF"):
        assert to_model_input(imagegen.encode(picture, fmt)).shape[:2] == (28, 28)


# D4, D5, D6: the game --------------------------------------------------------------------------------

class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def make_game(store=None, **kwargs):
    clock = Clock()
    game = Game(HighScores(store.folder) if store is not None else None, prepare=lambda image: image,
                recognise=lambda x, task: {c: (0.9 if c == str(x) else 0.1 / 9) for c in "0123456789"},
                check_mode=lambda mode: None, clock=clock, wall=lambda: 1.7e9, **kwargs)
    return game, clock


def test_only_rounds_in_play_count_and_one_client_holds_only_a_few():
    game, clock = make_game(rounds_per_client=3)
    mine = [game.start("digits", 5, client="10.0.0.1") for _ in range(3)]
    with pytest.raises(GameError, match="already have 3 rounds in play"):
        game.start("digits", 5, client="10.0.0.1")
    assert game.start("digits", 5, client="10.0.0.2")  # others are not locked out
    game.end(mine[0]["round_id"])
    assert game.start("digits", 5, client="10.0.0.1")  # an ended round no longer counts
    clock.now += 6
    for _ in range(3):  # nor do rounds whose time is up, though they are kept for their summary
        game.start("digits", 5, client="10.0.0.1")
    assert game.status(mine[1]["round_id"])["over"]


def test_a_script_resending_images_scores_nothing(tmp_path, mnist_samples):
    from handwriting.feedback import open_store

    store = open_store(tmp_path)
    x, y = mnist_samples
    drawings = {str(d): x[list(y).index(d)].astype(np.float32) / 255 for d in range(10)}
    game, clock = make_game(store)
    game.prepare = lambda image: image
    game.recognise = lambda x, task: {c: (0.9 if np.array_equal(x, drawings[c]) else 0.01) for c in drawings}
    state = game.start("digits", 60, "bot")
    seen = set()
    for _ in range(20):  # at once, every time: faster than anyone draws
        clock.now += 0.05
        seen.add(state["target"])
        state = game.submit(state["round_id"], drawings[state["target"]])
        assert state["verdict"]["unscored"] in ("too fast", "repeat")
    assert state["score"] == 0
    state = game.start("digits", 60, "bot")  # a new round: its own images
    seen = set()
    for _ in range(30):  # at a human pace, but each digit's one image again and again
        clock.now += 1.0
        first = state["target"] not in seen
        seen.add(state["target"])
        before = state["score"]
        state = game.submit(state["round_id"], drawings[state["target"]])
        assert (state["score"] > before) == first and state["verdict"]["unscored"] in (None, "repeat")
    assert state["score"] < 10 * 60  # at most one scoring drawing per digit
    game.end(state["round_id"])
    store.close()


def test_api_rounds_stay_off_the_page_table_and_the_table_keeps_the_top(tmp_path, monkeypatch):
    from handwriting.feedback import open_store
    from handwriting.game import high_scores

    monkeypatch.setattr(high_scores, "KEEP_SCORES", 5)
    store = open_store(tmp_path)
    game, clock = make_game(store)
    for source, points in [("api", 9)] * 3 + [("page", 2)] * 8:
        state = game.start("digits", 60, f"{source}-player", source=source)
        for _ in range(points):
            clock.now += 1
            state = game.submit(state["round_id"], state["target"])
        game.end(state["round_id"])
    page = game.scores.top("digits", limit=50)
    assert len(page) == 5 and {e.name for e in page} == {"page-player"}  # API rounds hidden; top 5 kept
    both = HighScores(store.folder, shown=("page", "api")).top("digits", limit=50)
    assert sum(e.name == "api-player" for e in both) == 3
    assert both[0].name == "api-player"
    store.close()


def test_a_legacy_score_table_gets_its_rows_marked_and_hidden(tmp_path):
    """The table once lived in the feedback database, at first without a source column: its rows are
    copied into the table's own file once, marked "legacy" and kept off the page's table."""
    from handwriting.feedback import open_store

    store = open_store(tmp_path)
    with store.transaction() as conn:
        conn.execute("CREATE TABLE game_scores (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, mode TEXT NOT NULL, "
                     "name TEXT NOT NULL, score INTEGER NOT NULL, right INTEGER NOT NULL, drawn INTEGER NOT NULL, "
                     "best_streak INTEGER NOT NULL, seconds INTEGER NOT NULL)")
        conn.execute("INSERT INTO game_scores VALUES ('x', '2026-11-30T00:00:00Z', 'digits', 'bot', 9735, 165, 165, "
                     "165, 10)")
    assert HighScores(tmp_path).top("digits") == []
    assert HighScores(tmp_path, shown=("legacy",)).top("digits")[0].score == 9735
    store.close()


def test_consent_is_only_a_real_true(http):
    for value in ("false", "0", "true", 1, None):
        with pytest.raises(rawapi.CallError, match="opt_in must be true or false"):
            call(http, "game_start", "digits", 30, "", value)
    assert call(http, "game_start", "digits", 30, "", False)["opt_in"] is False
    assert call(http, "game_start", "digits", 30, "", True)["opt_in"] is True


# D7: what Yes/No answers lives on the server ----------------------------------------------------------

def test_page_listeners_cannot_store_a_prediction_the_model_did_not_make(http):
    import app

    session = uuid.uuid4().hex
    forged = {"task": "digits", "predicted": "0", "confidence": 1e300, "model_version": "x", "image": None,
              "stored_id": None}
    before = app.recorder.store.count()
    outputs = rawapi.queue_call(*http, fn_index("confirm"), [forged], session)  # the State comes from the server
    assert "Predict something first" in outputs[1] and app.recorder.store.count() == before
    with pytest.raises(InvalidFeedbackError, match="probability between 0 and 1"):
        make_record(np.eye(28, dtype=np.float32), "digits", "1", "1", confidence=1e300, model_version="x")


# D8: an API flood does not evict a visitor -------------------------------------------------------------

def test_stateless_sessions_go_before_a_visitors():
    from ui.gradio_patches import VisitorsFirstStateHolder

    holder = VisitorsFirstStateHolder()
    holder.capacity = 3

    class Session:
        def __init__(self, state):
            self.state_data = state

    holder.session_data["visitor"] = Session({1: "a prediction"})
    holder.update("visitor")
    for i in range(1100):  # stateless API calls, each its own session
        holder.session_data[f"api-{i}"] = Session({})
        holder.update(f"api-{i}")
    assert "visitor" in holder.session_data and len(holder.session_data) == 3


def test_a_visitors_prediction_survives_1100_api_calls(http, seven):
    import app
    from handwriting.config import settings
    from ui.gradio_patches import VisitorsFirstStateHolder

    assert type(app.demo.state_holder) is VisitorsFirstStateHolder
    session = uuid.uuid4().hex
    upload = rawapi.upload(*http, seven.read_bytes())
    predicted = rawapi.queue_call(*http, fn_index("page_answer", "ImageUpload"), [upload, "digits"], session)
    assert predicted[0]["label"] == "7"
    for _ in range(settings().max_sessions + 100):
        call(http, "model_info")
    outputs = rawapi.queue_call(*http, fn_index("confirm"), [None], session)
    assert "the model was right, it is 7" in outputs[1]


# D9, D10, notes ------------------------------------------------------------------------------------------

def test_a_data_url_obeys_the_upload_limit(http, seven, monkeypatch):
    monkeypatch.setenv("HANDWRITING_MAX_UPLOAD", "2kb")
    inline = "data:image/png;base64," + base64.b64encode(seven.read_bytes() + b"\0" * 4096).decode()
    for form in ({"path": None, "meta": {"_type": "gradio.FileData"}}, {}):
        with pytest.raises(rawapi.CallError, match="too large: at most"):
            call(http, "predict", {"url": inline, **form}, "digits")
        with pytest.raises(rawapi.CallError, match="too large: at most|not in the form it takes"):
            call(http, "predict_sketch", {"background": None, "layers": [], "composite": {"url": inline, **form}},
                 "digits")
    monkeypatch.setenv("HANDWRITING_MAX_UPLOAD", "10mb")
    small = "data:image/png;base64," + base64.b64encode(seven.read_bytes()).decode()
    assert call(http, "predict", {"url": small}, "digits")["label"] == "7"  # within the limit: as before


def test_wrong_argument_types_get_clear_errors(http, seven, client):
    upload = rawapi.upload(*http, seven.read_bytes())
    with pytest.raises(rawapi.CallError, match="(Unknown task of type list|not in the list of choices)"):
        call(http, "predict", upload, ["digits"])
    with pytest.raises(rawapi.CallError, match="Unknown game mode"):
        call(http, "game_start", ["digits"], 30, "", False)
    with pytest.raises(rawapi.CallError, match="name must be text"):
        call(http, "game_start", "digits", 30, ["x"], False)
    with pytest.raises(rawapi.CallError, match="round length must be a number"):
        call(http, "game_start", "digits", {"a": 1}, "", False)
    with pytest.raises(rawapi.CallError, match="No such round"):
        call(http, "game_score", {"id": 1})
    with pytest.raises(rawapi.CallError, match=r"\.\.\. \(100,000 characters\)"):  # echoed cut short
        call(http, "game_start", "k" * 100_000, 30, "", False)
    with pytest.raises(rawapi.CallError, match=r"predicted text is too long \(100,000 characters\)"):  # a read's text
        call(http, "feedback", upload, "digits", "k" * 100_000, "7")


def test_a_retried_feedback_call_with_the_same_key_stores_once(http, seven):
    import app

    upload = rawapi.upload(*http, seven.read_bytes())
    key = {"Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
    before = app.recorder.store.count()
    first = call(http, "feedback", upload, "digits", "7", "7", headers=key)
    again = call(http, "feedback", upload, "digits", "7", "7", headers=key)
    assert first == again and app.recorder.store.count() == before + 1
    with pytest.raises(rawapi.CallError, match="Idempotency-Key must be"):
        call(http, "feedback", upload, "digits", "7", "7", headers={"Idempotency-Key": "no spaces allowed"})


def test_concurrent_retries_with_one_key_store_once(tmp_path, seven):
    from concurrent.futures import ThreadPoolExecutor

    from handwriting.feedback import FeedbackRecorder
    from handwriting.service import FeedbackDesk

    recorder = FeedbackRecorder(tmp_path)
    with ThreadPoolExecutor(8) as pool:
        records = list(pool.map(lambda _: FeedbackDesk(recorder).submit(str(seven), "digits", "7", "7", confidence=0.9,
                                                          model_version="1", request_key="k1"), range(8)))
    assert len({r.id for r in records}) == 1 and recorder.store.count() == 1
    assert len(list((tmp_path / "feedback_originals").glob("*/*"))) == 1  # the losers' copies removed
    recorder.close()


def test_an_orphan_original_left_by_a_crash_is_removed_at_start(tmp_path, seven):
    from handwriting.feedback import FeedbackRecorder
    from handwriting.service import FeedbackDesk

    recorder = FeedbackRecorder(tmp_path)
    kept = FeedbackDesk(recorder).submit(str(seven), "digits", "7", "7", confidence=0.9, model_version="1")
    orphan = tmp_path / "feedback_originals" / "ab" / f"ab{'0' * 30}.png"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"crashed before its record")
    old = time.time() - 3600
    import os

    os.utime(orphan, (old, old))
    os.utime(tmp_path / kept.original_file, (old, old))
    recorder.close()
    FeedbackRecorder(tmp_path).start().close()  # the sweep runs at start (the app's launch)
    assert not orphan.exists() and (tmp_path / kept.original_file).exists()
    assert sqlite3.connect(tmp_path / "feedback.sqlite3").execute("SELECT COUNT(*) FROM feedback").fetchone() == (1,)


# Round two (issue 19): session floods, progressive JPEGs, request bodies, remote files, echoes ---------

def _digit_data_url(mnist_samples, digit: int) -> str:
    x, y = mnist_samples
    return "data:image/png;base64," + base64.b64encode(imagegen.encode(imagegen.canvas_rgba(x[list(y).index(digit)]))).decode()


def test_a_flood_of_sessions_holding_state_locks_no_visitor_out(http, seven, mnist_samples):
    """1,300 fresh sessions holding state from one address: new visitors are still served, and a visitor
    from another address keeps the answer their Yes is about."""
    from concurrent.futures import ThreadPoolExecutor

    client, url = http
    live = fn_index("page_live", "DrawingCanvas")
    drawing = _digit_data_url(mnist_samples, 3)
    with httpx.Client(timeout=60, transport=httpx.HTTPTransport(local_address="127.0.0.2")) as elsewhere:
        visitor = uuid.uuid4().hex
        upload = rawapi.upload(elsewhere, url, seven.read_bytes())
        assert rawapi.queue_call(elsewhere, url, fn_index("page_answer", "ImageUpload"), [upload, "digits"],
                                 visitor)[0]["label"] == "7"

        def flood(_):
            with httpx.Client(timeout=60) as one:
                return rawapi.queue_call(one, url, live, [drawing, "digits"], uuid.uuid4().hex)[0]["label"]

        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(flood, range(1300))) == {"3"}
        for _ in range(5):  # new visitors after the flood
            assert rawapi.queue_call(client, url, live, [drawing, "digits"], uuid.uuid4().hex)[0]["label"] == "3"
        outputs = rawapi.queue_call(elsewhere, url, fn_index("confirm"), [None], visitor)
    assert "the model was right, it is 7" in outputs[1]


def test_one_address_keeps_only_its_budget_of_sessions():
    from ui.gradio_patches import VisitorsFirstStateHolder

    holder = VisitorsFirstStateHolder()
    holder.capacity, holder.per_client = 50, 10

    class Session:
        def __init__(self):
            self.state_data = {1: "an answer"}

    def arrive(sid, client):
        holder.session_data[sid] = Session()
        holder.update(sid)
        holder.claim(sid, client)

    arrive("visitor", "10.0.0.9")
    for i in range(300):
        arrive(f"flood-{i}", "10.0.0.1")
    mine = [sid for sid, s in holder.session_data.items() if s.client == "10.0.0.1"]
    assert "visitor" in holder.session_data and len(mine) == 10 and mine[-1] == "flood-299"


@pytest.fixture(scope="module")
def progressive_jpegs(tmp_path_factory):
    """A digit pasted on white as progressive 4:4:4 JPEGs: 7071x7071 (50 MP) and 4000x4000 (16 MP)."""
    from PIL import Image, ImageDraw

    made = {}
    for side in (7071, 4000):
        img = Image.new("RGB", (side, side), "white")
        ImageDraw.Draw(img).line([(side // 2, side // 4), (side // 2, 3 * side // 4)], fill="black", width=side // 25)
        made[side] = imagegen.encode(img, "JPEG", quality=50, progressive=True, subsampling=0)
    return made


def test_a_progressive_jpeg_is_costed_at_its_full_size(progressive_jpegs, monkeypatch):
    """libjpeg buffers a progressive file's coefficients at full size however small it draws it."""
    with pytest.raises(InvalidImageError, match="progressive JPEG of 7071x7071"):
        to_model_input(progressive_jpegs[7071])
    slots = []
    real = decoding.decode_slot
    monkeypatch.setattr(decoding, "decode_slot", lambda pixels: slots.append(pixels) or real(pixels))
    assert to_model_input(progressive_jpegs[4000]).shape == (28, 28)
    assert slots == [16_000_000]  # a large decode: two at a time, whatever it is drawn at
    with pytest.raises(InvalidImageError, match="parts add up to 96 megapixels"):
        to_model_input({"background": None, "layers": [progressive_jpegs[4000]] * 6, "composite": None})


def _raw_request(url: str, head: str, body: bytes = b"", wait: float = 20) -> bytes:
    import socket

    host, port = url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as s:
        s.sendall(head.encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def test_a_body_over_the_limit_is_refused_before_it_is_read(app_url):
    """A declared 200 MB is refused from the header, with nothing of it sent; a chunked body as soon as it
    passes the limit."""
    for path in ("/gradio_api/call/predict", "/gradio_api/queue/join", "/gradio_api/upload"):
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: 200000000\r\n\r\n")
        assert _raw_request(app_url, head).startswith(b"HTTP/1.1 413"), path
    chunk = b"k" * 2**20
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
    head = "POST /gradio_api/call/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert _raw_request(app_url, head, chunked).startswith(b"HTTP/1.1 413")


def test_a_file_named_by_a_url_is_refused_never_fetched(http, monkeypatch):
    import gradio.processing_utils

    fetched = []

    async def record(url, *args, **kwargs):
        fetched.append(url)
        raise RuntimeError("no fetching in tests")

    monkeypatch.setattr(gradio.processing_utils, "async_ssrf_protected_download", record)
    remote = {"path": "http://93.184.215.14/big.png", "url": "http://93.184.215.14/big.png",
              "meta": {"_type": "gradio.FileData"}}
    for endpoint, value in (("predict", remote), ("predict_sketch", {"background": None, "layers": [], "composite": remote}),
                            ("read", remote)):
        with pytest.raises(rawapi.CallError, match="not an upload"):
            call(http, endpoint, value, "digits")
    with pytest.raises(rawapi.CallError, match="not an upload"):
        call(http, "predict_batch", [remote], "digits")
    assert fetched == []


def test_a_huge_value_is_echoed_cut_short_and_logged_in_one_line(http, seven, capfd):
    upload = rawapi.upload(*http, seven.read_bytes())
    for task in ("k" * 10_000_000, "symbols"):
        with pytest.raises(rawapi.CallError) as refused:
            call(http, "predict", upload, task)
        assert len(str(refused.value)) < 300 and "not in the list of choices" in str(refused.value)
    assert "Traceback" not in capfd.readouterr().err


def test_an_address_over_its_budget_loses_its_stateless_sessions_first():
    from ui.gradio_patches import VisitorsFirstStateHolder

    holder = VisitorsFirstStateHolder()
    holder.capacity, holder.per_client = 50, 10

    class Session:
        def __init__(self, state):
            self.state_data = state

    holder.session_data["visitor"] = Session({1: "an answer"})
    holder.claim("visitor", "10.0.0.1")
    for i in range(30):  # the same visitor's stateless API calls
        holder.session_data[f"call-{i}"] = Session({})
        holder.update(f"call-{i}")
        holder.claim(f"call-{i}", "10.0.0.1")
    assert "visitor" in holder.session_data and len(holder.session_data) == 10


def test_a_request_reads_only_the_sessions_it_may_act_on():
    """Every request passes through the holder on the event loop, under one lock: with a thousand sessions
    from other addresses, a new session's arrival (an eviction) and its claim read only the oldest one."""
    from ui.gradio_patches import VisitorsFirstStateHolder

    holder = VisitorsFirstStateHolder()
    holder.capacity, holder.per_client = 1000, 10
    read = []

    class Session:
        def __init__(self, name, state):
            self.name, self.state = name, state

        def __getattribute__(self, attr):
            if attr in ("client", "state_data"):
                read.append(object.__getattribute__(self, "name"))
            return object.__getattribute__(self, "state" if attr == "state_data" else attr)

    for i in range(1000):  # the oldest holds no state, every other one does
        holder.session_data[f"s{i}"] = Session(f"s{i}", {} if i == 0 else {1: "an answer"})
        holder.claim(f"s{i}", f"10.0.{i // 250}.{i % 250}")
    read.clear()
    holder.session_data["new"] = Session("new", {})
    holder.update("new")
    holder.claim("new", "10.9.9.9")
    assert "s0" not in holder.session_data and len(holder.session_data) == 1000
    assert set(read) <= {"s0", "new"}
