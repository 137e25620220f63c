"""`gankit serve`: the API through Flask's test client, its safety rules, and the page in a real
headless Chromium (skipped where Debian's chromium and chromedriver are not installed)."""
from __future__ import annotations

import io
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gankit
from gankit import Config
from gankit.cli import main
from gankit.experiments.spec import load_sweep
from gankit.experiments.sweep import run_sweep
from gankit.web.app import create_app

PNG = b"\x89PNG\r\n\x1a\n"
SWEEP = """
[experiment]
title = "one variant"
about = "a sweep for the web page"
documents = "nothing"
sections = ["samples", "losses"]

[base]
model = "dcgan"
data = "digits"
image_size = 16
ngf = 4
ndf = 4
batch_size = 32
device = "cpu"

[[variants]]
name = "only"

[budget.quick]
max_steps = 2
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A folder with a two-epoch DCGAN, a conditional DCGAN, a 2-D points GAN and a sweep."""
    root = tmp_path_factory.mktemp("web") / "runs"
    small = dict(data="digits", image_size=16, ngf=8, ndf=8, batch_size=64, device="cpu")
    gankit.train(Config(model="dcgan", epochs=2, out=str(root / "dcgan-run"), **small))
    gankit.train(Config(model="cdcgan", max_steps=5, out=str(root / "cdcgan-run"), **small))
    gankit.train(Config(model="gan2d", data="ring8", max_steps=5, out=str(root / "points-run")))
    sweep_file = root.parent / "one.toml"
    sweep_file.write_text(SWEEP)
    run_sweep(load_sweep(str(sweep_file)), out=str(root / "sweeps" / "one"))
    return root


@pytest.fixture(scope="module")
def client(runs):
    return create_app(runs, device="cpu").test_client()


def png_of(response) -> np.ndarray:
    assert response.status_code == 200 and response.mimetype == "image/png", response.get_data(as_text=True)
    assert response.data.startswith(PNG)
    return np.asarray(Image.open(io.BytesIO(response.data)))


def error_of(response, status: int = 400) -> str:
    assert response.status_code == status, response.data[:200]
    return response.get_json()["error"]


def test_the_run_list(client):
    listing = client.get("/api/runs").get_json()
    by_name = {r["name"]: r for r in listing["runs"]}
    assert set(by_name) == {"dcgan-run", "cdcgan-run", "points-run", "sweeps/one/only"}
    assert by_name["dcgan-run"]["model"] == "dcgan" and by_name["dcgan-run"]["epochs"] == 2
    assert by_name["dcgan-run"]["step"] == 2 * (1437 // 64) and by_name["dcgan-run"]["loss_d"] > 0
    assert by_name["points-run"]["points"] and not by_name["dcgan-run"]["points"]
    assert listing["sweeps"] == [dict(name="sweeps/one", title="one variant", report=True)]


def test_run_details_have_curves_and_every_epoch_grid(client):
    details = client.get("/api/run/dcgan-run/details").get_json()
    assert details["grids"] == ["epoch_001.png", "epoch_002.png"] and not details["conditional"]
    assert len(details["curves"]["step"]) == len(details["curves"]["loss_d"]) > 3
    assert client.get("/api/run/cdcgan-run/details").get_json()["conditional"]
    assert png_of(client.get("/files/dcgan-run/samples/epoch_002.png")).ndim >= 2
    assert client.get("/files/sweeps/one/report.html").data.startswith(b"<!DOCTYPE html>")


def test_generation_is_reproducible_by_seed(client):
    first = png_of(client.get("/api/run/dcgan-run/generate.png?seed=7&n=16"))
    assert first.shape[:2] == (4 * 18 + 2, 4 * 18 + 2)  # a 4 × 4 grid of 16 px images, 2 px padding
    assert np.array_equal(first, png_of(client.get("/api/run/dcgan-run/generate.png?seed=7&n=16")))
    assert not np.array_equal(first, png_of(client.get("/api/run/dcgan-run/generate.png?seed=8&n=16")))


def test_the_interpolation_runs_from_one_seed_to_the_other(client):
    url = "/api/run/dcgan-run/interpolate.png?from=3&to=9&n=1&alpha="
    start, middle, end = (png_of(client.get(url + a)) for a in ("0", "0.5", "1"))
    assert np.array_equal(start, png_of(client.get("/api/run/dcgan-run/generate.png?seed=3&n=1")))
    assert np.array_equal(end, png_of(client.get("/api/run/dcgan-run/generate.png?seed=9&n=1")))
    assert not np.array_equal(middle, start) and not np.array_equal(middle, end)


def test_the_class_picker(client):
    three = png_of(client.get("/api/run/cdcgan-run/generate.png?seed=1&class=3"))
    assert not np.array_equal(three, png_of(client.get("/api/run/cdcgan-run/generate.png?seed=1&class=5")))
    assert "unconditional" in error_of(client.get("/api/run/dcgan-run/generate.png?class=3"))
    assert "class 42 is not in this run" in error_of(client.get("/api/run/cdcgan-run/generate.png?class=42"))
    assert "integer label" in error_of(client.get("/api/run/cdcgan-run/interpolate.png?class=three"))


@pytest.mark.parametrize("query, message", [
    ("generate.png?n=0", "n must be an integer in [1, 64], got 0"),
    ("generate.png?n=65", "n must be an integer in [1, 64], got 65"),
    ("generate.png?n=lots", "n must be an integer in [1, 64], got 'lots'"),
    ("generate.png?seed=-1", "seed must be an integer in [0, 2147483647]"),
    ("generate.png?seed=99999999999", "seed must be an integer in [0, 2147483647]"),
    ("interpolate.png?alpha=2", "alpha must be a number in [0.0, 1.0], got 2"),
    ("interpolate.png?alpha=nan", "alpha must be a number in [0.0, 1.0], got nan"),
    ("interpolate.png?from=x", "from must be an integer"),
    ("neighbours.png?k=100", "k must be an integer in [1, 10], got 100"),
])
def test_bad_parameters_are_400_with_a_message(query, message, client):
    assert message in error_of(client.get("/api/run/dcgan-run/" + query))


def test_points_and_nearest_neighbours(client):
    assert png_of(client.get("/api/run/points-run/generate.png?seed=2&n=64")).shape[0] > 100  # a scatter plot
    assert "2-D points" in error_of(client.get("/api/run/points-run/neighbours.png"))
    grid = png_of(client.get("/api/run/dcgan-run/neighbours.png?n=3&k=5&seed=1"))
    assert grid.shape[:2] == (3 * 18 + 2, 6 * 18 + 2)  # each sample, then its 5 nearest training images


@pytest.mark.parametrize("path", [
    "/files/../../../../etc/passwd",
    "/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/files/..%2f..%2f..%2fetc/passwd",
    "/files//etc/passwd",
    "/files/dcgan-run/../../../etc/passwd",
    "/files/outside-link/passwd",
    "/files/dcgan-run/checkpoints/last.pt",
    "/api/run/..%2f..%2fetc/details",
    "/api/run/%2Fetc/generate.png",
    "/api/run/nope/generate.png",
])
def test_only_files_under_the_runs_folder_are_served(path, runs, client):
    link = runs / "outside-link"  # a link inside the folder to a folder outside it
    link.symlink_to("/etc", target_is_directory=True)
    try:
        response = client.get(path, follow_redirects=True)
        assert client.get("/api/runs").status_code == 200  # the listing does not follow the link either
    finally:
        link.unlink()
    assert response.status_code in (400, 404) and b"root:" not in response.data


def test_nothing_is_written_into_the_runs(runs, client):
    def snapshot():
        return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in runs.rglob("*") if p.is_file()}

    before = snapshot()
    for url in ("/api/runs", "/api/run/dcgan-run/details", "/api/run/dcgan-run/generate.png?seed=4",
                "/api/run/cdcgan-run/interpolate.png?alpha=0.3&class=2", "/api/run/dcgan-run/neighbours.png",
                "/api/run/points-run/generate.png", "/files/sweeps/one/report.html", "/"):
        assert client.get(url).status_code == 200, url
    assert snapshot() == before


def test_serve_command_errors_are_one_line(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "is not a folder" in err and err.count("\n") == 1
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["serve", str(tmp_path), "--port", str(busy.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert "cannot listen on 127.0.0.1" in err and err.count("\n") == 1


@pytest.mark.parametrize("host, runner", [("127.0.0.1", "werkzeug"), ("0.0.0.0", "waitress")])
def test_off_loopback_the_page_runs_under_waitress(host, runner, runs):
    """A production WSGI server with a bounded thread pool once others can reach the page."""
    import urllib.request

    from gankit.web.app import make_wsgi_server

    server, port, kind = make_wsgi_server(create_app(runs, device="cpu"), host, 0)
    assert kind.startswith(runner)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=30) as reply:
            assert reply.status == 200 and b"dcgan-run" in reply.read()
    finally:
        if runner == "werkzeug":
            server.shutdown()
        server.close()
    thread.join(10)
    assert not thread.is_alive()


def test_serving_off_loopback_warns_that_anyone_can_generate(runs, monkeypatch):
    from gankit.web import app as web

    said = []
    monkeypatch.setattr(web, "make_wsgi_server", lambda app, host, port: (type("S", (), dict(
        run=lambda self: None, close=lambda self: None))(), 8123, "waitress, 4 threads"))
    web.serve(str(runs), host="0.0.0.0", say=said.append)
    assert "waitress, 4 threads" in said[0] and "anyone who can reach 0.0.0.0:8123" in said[1]
    said.clear()
    web.serve(str(runs), host="127.0.0.1", say=said.append)
    assert len(said) == 1


# --- the page in a real browser ------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1700"):
        options.add_argument(arg)
    from selenium.common.exceptions import WebDriverException

    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as err:  # installed but unable to start here (no display libraries, sandbox)
        pytest.skip(f"chromium cannot start here: {err.msg.splitlines()[0] if err.msg else err}")
    yield driver
    driver.quit()


@pytest.fixture
def server(runs):
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, create_app(runs, device="cpu"), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()


def wait_for(driver, script: str, timeout: float = 60):
    """Until the JavaScript expression ``script`` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script("return " + script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {script}")


def loaded(image_id: str) -> str:
    return f"(() => {{ const i = document.getElementById('{image_id}'); " \
           f"return i.complete && i.naturalWidth > 0 ? i.src : ''; }})()"


def test_the_page_in_headless_chromium(browser, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    started = time.monotonic()
    browser.get(server)
    wait_for(browser, "document.querySelectorAll('#runs tbody tr').length === 4")
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr") if r.text.startswith("dcgan-run "))
    row.click()
    first = wait_for(browser, loaded("generated"))
    assert browser.find_element(By.ID, "seed").text == "0"
    wait_for(browser, loaded("epoch-grid"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#curves polyline")) == 2  # loss_d and loss_g

    browser.find_element(By.ID, "generate").click()  # new noise: a new image and its seed shown
    second = wait_for(browser, f"(() => {{ const s = {loaded('generated')}; return s && s !== '{first}' ? s : ''; }})()")
    seed = browser.find_element(By.ID, "seed").text
    assert seed.isdigit() and seed != "0" and second != first

    before = wait_for(browser, loaded("interpolated"))
    slider = browser.find_element(By.ID, "alpha")
    slider.click()  # the middle of the slider: α ≈ 0.5
    slider.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    wait_for(browser, f"(() => {{ const s = {loaded('interpolated')}; return s && s !== '{before}' ? s : ''; }})()")
    alpha = float(browser.find_element(By.ID, "alpha-label").text)
    assert 0.3 < alpha < 0.7

    shot = Path(os.environ.get("GANKIT_SCREENSHOT", tmp_path / "page.png"))
    assert browser.save_screenshot(str(shot)) and shot.read_bytes().startswith(PNG)
    assert browser.find_element(By.ID, "error").text == ""
    print(f"page test: {time.monotonic() - started:.1f} s in the browser; screenshot {shot}")
