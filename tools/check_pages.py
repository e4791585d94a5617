"""Open the built book in headless Chromium, screenshot each chapter, check what a reader would see.

For each chapter page: the page has text content, its matplotlib figures have loaded
(naturalWidth > 0), every embedded video has decoded data (readyState >= 2) and plays (currentTime
advances), widget state, when the page has some, was rendered into widget views (offline: the
JS is served by the book), no paragraph is a Markdown table left as raw pipe-separated text, and
no code cell is wider than the page (its end, where the shape comments sit, would be hidden).

    python tools/check_pages.py [_build/html] [--out _build/screenshots]

Needs Debian's `chromium` (apt-get install chromium) and `websocket-client` (pip). Talks to Chromium
over the DevTools protocol on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROBE = r"""
(async () => {
  const vids = [...document.querySelectorAll('video')];
  const moved = [], ready = [];
  // Looping autoplay videos may wrap around between two reads of currentTime, so "advancing"
  // means: it presented new frames, or its time changed at all.
  const frames = v => (
    v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0);
  // bring each into view (off-screen media may be left idle), play, watch it advance
  for (const v of vids) {
    v.scrollIntoView({block: 'center', inline: 'nearest'}); v.muted = true;
    const f0 = frames(v), t0 = v.currentTime;
    const p = v.play(); if (p) p.catch(() => {});
    const advanced = () => v.readyState >= 2 && (frames(v) > f0 || v.currentTime !== t0);
    // a busy CI box may be slow
    for (let k = 0; k < 4 && !advanced(); k++) await new Promise(r => setTimeout(r, 500));
    moved.push(advanced());
    // read now: a video scrolled out of view again may be suspended by the browser
    ready.push(v.readyState >= 2);
  }
  // and every inner container that scrollIntoView moved (else the screenshot is shifted)
  window.scrollTo(0, 0);
  for (const e of document.querySelectorAll('*')) {
    if (e.scrollLeft) e.scrollLeft = 0;
    if (e.scrollTop) e.scrollTop = 0;
  }
  const imgs = [...document.querySelectorAll('article img, main img')];
  // A Markdown table that was rendered as CommonMark (which has no tables) becomes a paragraph of
  // pipe-separated text: a line of pipes and dashes, or two lines that start and end with a pipe.
  const pipeRow = /^\s*\|.*\|\s*$/;
  const rawTables = [...document.querySelectorAll('main p, main li, article p')].filter(p => {
    const lines = p.innerText.split('\n');
    return /\|\s*:?-{3,}/.test(p.innerText) || lines.filter(l => pipeRow.test(l)).length >= 2;
  });
  // Code cells whose lines are wider than their box: the end of the line (where the shape
  // comments sit) would be hidden behind a scroll bar.
  const clipped = [...document.querySelectorAll('div.cell div.cell_input div.highlight pre')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.innerText.split('\n').reduce((a, b) => (b.length > a.length ? b : a), ''));
  return JSON.stringify({
    title: document.title,
    text: (document.querySelector('main') || document.body).innerText.length,
    images: imgs.length,
    images_loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    videos: vids.length,
    videos_ready: ready.filter(Boolean).length,
    videos_playing: moved.filter(Boolean).length,
    widget_state: document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-state+json"]').length,
    widget_views: document.querySelectorAll(
      '.jupyter-widgets, .widget-slider, .widget-output').length,
    errors: document.querySelectorAll('.output.traceback, .output.stderr .ansi-red-fg').length,
    raw_tables: rawTables.length,
    raw_table_text: rawTables.map(p => p.innerText.slice(0, 80)),
    clipped_code: clipped.length,
    clipped_code_text: clipped.map(l => l.slice(0, 60)),
  });
})()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chromium:
    def __init__(self, exe: str, width=1280, height=2000):
        import websocket  # websocket-client

        self.port = _free_port()
        self.profile = tempfile.mkdtemp()
        self.proc = subprocess.Popen(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--autoplay-policy=no-user-gesture-required",
                "--hide-scrollbars",
                f"--window-size={width},{height}",
                f"--user-data-dir={self.profile}",
                "--remote-debugging-address=127.0.0.1",
                f"--remote-debugging-port={self.port}",
                # newer Chromium refuses DevTools websockets from origins it was not told about
                f"--remote-allow-origins=http://127.0.0.1:{self.port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                targets = json.load(
                    urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json", timeout=1)
                )
                page = next(t for t in targets if t["type"] == "page")
                break
            except Exception:
                time.sleep(0.2)
        else:
            raise RuntimeError("chromium did not start its DevTools endpoint")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self._id = 0
        self.call("Page.enable")

    def call(self, method, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def open(self, url: str, settle: float = 3.0):
        self.call("Page.navigate", url=url)
        deadline = time.time() + 30
        while time.time() < deadline:
            r = self.call("Runtime.evaluate", expression="document.readyState", returnByValue=True)
            if r["result"].get("value") == "complete":
                break
            time.sleep(0.2)
        time.sleep(settle)  # widget manager renders after load

    def evaluate(self, expr: str):
        r = self.call("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        return r["result"].get("value")

    def screenshot(self, path: Path, max_height: int = 4000):
        """The top of the page (up to max_height px), rendered beyond the window as well."""
        height = min(
            max_height, int(self.evaluate("document.documentElement.scrollHeight") or max_height)
        )
        data = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1},
        )["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            self.proc.wait(10)
            shutil.rmtree(self.profile, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("html", nargs="?", default="_build/html")
    ap.add_argument("--out", default="_build/screenshots")
    ap.add_argument(
        "--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser")
    )
    a = ap.parse_args(argv)
    if not a.chromium:
        print("check_pages: chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    html, out = Path(a.html).resolve(), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    pages = sorted((html / "notebooks").glob("*.html")) + sorted((html / "book").glob("*.html"))
    if not pages:
        print(f"check_pages: no chapter pages under {html}/notebooks", file=sys.stderr)
        return 2
    browser, failures = Chromium(a.chromium), []
    try:
        for page in pages:
            browser.open(page.as_uri())
            r = json.loads(browser.evaluate(PROBE))
            shot = out / (page.stem + ".png")
            browser.screenshot(shot)
            problems = []
            if r["text"] < 500:
                problems.append("almost no text")
            if r["images_loaded"] < r["images"]:
                problems.append(f"{r['images'] - r['images_loaded']} figures did not load")
            if r["videos_ready"] < r["videos"] or r["videos_playing"] < r["videos"]:
                problems.append(
                    f"videos: {r['videos']} embedded, {r['videos_ready']} decoded, "
                    f"{r['videos_playing']} playing"
                )
            if r["widget_state"] and not r["widget_views"]:
                problems.append("widget state present but no widget rendered")
            if r["raw_tables"]:
                problems.append(
                    f"{r['raw_tables']} paragraphs of raw pipe-table text "
                    f"(first: {r['raw_table_text'][0]!r})"
                )
            if r["clipped_code"]:
                problems.append(
                    f"{r['clipped_code']} code cells wider than the page "
                    f"(first: {r['clipped_code_text'][0]!r})"
                )
            if r["errors"]:
                problems.append(f"{r['errors']} error outputs")
            status = "ok" if not problems else "FAIL: " + "; ".join(problems)
            print(
                f"{page.name:36s} figures {r['images_loaded']}/{r['images']}  videos "
                f"{r['videos_playing']}/{r['videos']}  widgets {r['widget_views']}  "
                f"-> {shot}  {status}"
            )
            if problems:
                failures.append(page.name)
    finally:
        browser.close()
    print(f"check_pages: {len(pages) - len(failures)} of {len(pages)} chapter pages ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
