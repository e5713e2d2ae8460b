"""The page at `/` of `vqual serve` in a real browser: Debian's chromium driven by Playwright for Python (issue 18).

The set-up installs chromium with apt-get when it is missing and it can (root); otherwise the test is skipped and
says why. Screenshots go to ``out/test-artefacts/serve/`` (or ``$VQUAL_TEST_ARTEFACTS``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mediagen import moving_pattern, write_image, write_video
from serverproc import Server

pytest.importorskip("fastapi", reason="needs the vqual[serve] extra (make test installs it)")
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (the test extra)")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTEFACTS = Path(os.environ.get("VQUAL_TEST_ARTEFACTS", Path(__file__).resolve().parents[2] / "out" /
                                "test-artefacts")) / "serve"


def _chromium() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("Debian's chromium is not installed and cannot be installed here (not root or no apt-get)")
    r = subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
                       shell=True, capture_output=True, text=True, timeout=900)
    if r.returncode != 0 or not os.path.exists(CHROMIUM):
        pytest.skip(f"apt-get install chromium failed: {(r.stderr or r.stdout).strip()[-300:]}")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("home")).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(3)
    base = np.linspace(40, 220, 160, dtype=np.uint8)[None, :, None].repeat(120, 0).repeat(3, 2)
    img = write_image(d / "photo.png", np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))
    video = write_video(d / "clip.mp4", moving_pattern(40, 128, 160), fps=10)  # H.264: Debian's chromium plays it
    # HEVC in MP4, as phones record: vqual scores it, Debian's chromium cannot play it (canPlayType('video/mp4;
    # codecs="hvc1"') is "" there), so the page must say so instead of showing a dead player
    hevc = write_video(d / "phone.mp4", moving_pattern(40, 128, 160), fps=10, codec="libx265",
                       options={"x265-params": "log-level=error"})
    bad = d / "notes.txt"
    bad.write_text("not a picture\n" * 10)
    return {"img": img, "video": video, "hevc": hevc, "bad": bad}


def _api_score(server, path) -> dict:
    status, _, doc = server.upload("/v1/score?timeline=1", [(Path(path).name, Path(path).read_bytes())])
    assert status == 200, doc
    return doc["results"][0]


def test_page_scores_an_image_and_a_video_like_the_api(browser, server, media):
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    page.wait_for_function("document.querySelector('#serving').textContent.startsWith('Model ')")
    # keyboard: Tab reaches the file picker and Enter opens the file input (its native dialog is held back here:
    # Playwright's file-chooser interception proved racy in headless chromium), then the files are given to it
    page.evaluate("document.querySelector('#files').addEventListener('click', e => { window.picked = true; "
                  "e.preventDefault(); })")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "pick"
    page.keyboard.press("Enter")
    page.wait_for_function("window.picked === true", timeout=10_000)
    page.set_input_files("#files", [str(media["img"]), str(media["video"]), str(media["hevc"]), str(media["bad"])])
    page.wait_for_function("document.querySelectorAll('.card[data-finished]').length === 4", timeout=180_000)
    cards = {page.locator(".card").nth(i).locator("h2.name").inner_text(): page.locator(".card").nth(i)
             for i in range(4)}
    for name in ("photo.png", "clip.mp4"):
        api = _api_score(server, media["img" if name == "photo.png" else "video"])
        shown = cards[name].locator(".score-5")
        assert shown.inner_text() == f"{api['score']:.2f}"
        assert float(shown.get_attribute("data-score")) == api["score"]
        assert cards[name].locator(".level").inner_text().lower() == api["level"]
        assert cards[name].locator(".score-100").inner_text() == f"{api['score_100']:.0f}"
        assert cards[name].locator(".attrs .bar").count() == len(api["attributes"])
        assert cards[name].locator(".download").get_attribute("download") == f"{name}.vqual.json"
    error = cards["notes.txt"].locator(".error")
    assert error.is_visible() and "not an image or a video" in error.inner_text()
    page.screenshot(path=str(ARTEFACTS / "page-results.png"), full_page=True)

    # the video: its timeline has a point per second; a worst second seeks the preview there
    video_card = cards["clip.mp4"]
    api = _api_score(server, media["video"])
    assert video_card.locator(".timeline circle").count() == len(api["timeline"])
    worst = api["worst"][0]
    video_card.locator(".preview").evaluate("v => new Promise(r => v.readyState >= 1 ? r() : "
                                            "v.addEventListener('loadedmetadata', () => r(), {once: true}))")
    preview = video_card.locator(".preview")
    preview.evaluate("v => { v.currentTime = 0.5; }")  # away from every worst second first
    video_card.locator(f".worst button[data-second='{worst['second']}']").click()
    preview_at = "v => new Promise(r => { const t0 = Date.now(); const f = () => Math.abs(v.currentTime - %s) < 0.05 " \
                 "|| Date.now() - t0 > 10000 ? r(v.currentTime) : setTimeout(f, 50); f(); })"
    assert preview.evaluate(preview_at % worst["start"]) == pytest.approx(worst["start"], abs=0.05)
    other = api["worst"][-1]
    preview.evaluate("v => { v.currentTime = 0.5; }")
    video_card.locator(f".timeline circle.worst-pt[data-second='{other['second']}']").click()
    assert preview.evaluate(preview_at % other["start"]) == pytest.approx(other["start"], abs=0.05)
    assert video_card.locator(f".timeline circle[data-second='{other['second']}']").get_attribute("class") \
        == "pt worst-pt current"  # the picked second is marked on the plot
    # the H.264 preview really plays here: frames are decoded and time moves on; no "cannot play" note
    page.wait_for_function("document.querySelectorAll('.card[data-preview]').length === 2", timeout=20_000)
    assert video_card.get_attribute("data-preview") == "playable"
    assert video_card.locator(".preview-note").is_hidden()
    played = preview.evaluate("async v => { v.currentTime = 0; await v.play(); await new Promise(r => "
                              "setTimeout(r, 800)); v.pause(); return [v.getVideoPlaybackQuality().totalVideoFrames, "
                              "v.currentTime, v.videoWidth]; }")
    assert played[0] > 0 and played[1] > 0 and played[2] == 160, played
    video_card.screenshot(path=str(ARTEFACTS / "page-video.png"))

    # the HEVC clip: scored like the API, but this browser cannot play it: words instead of a dead player, and the
    # worst seconds still work (they mark the plot; seeking a video that cannot play is harmless)
    hevc_card = cards["phone.mp4"]
    api = _api_score(server, media["hevc"])
    assert hevc_card.locator(".score-5").inner_text() == f"{api['score']:.2f}"
    assert hevc_card.get_attribute("data-preview") == "unplayable"
    note = hevc_card.locator(".preview-note")
    assert note.is_visible() and "cannot play this video" in note.inner_text()
    assert hevc_card.locator(".preview").is_hidden()
    assert hevc_card.locator(".timeline circle").count() == len(api["timeline"])
    worst = api["worst"][0]
    button = hevc_card.locator(f".worst button[data-second='{worst['second']}']")
    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    assert "current" in hevc_card.locator(f".timeline circle[data-second='{worst['second']}']").get_attribute("class")
    hevc_card.screenshot(path=str(ARTEFACTS / "page-video-unplayable.png"))
    assert errors == []

    # phone width: nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTEFACTS / "page-phone.png"), full_page=True)
    page.close()
