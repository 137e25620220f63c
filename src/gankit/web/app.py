"""The Flask application of `gankit serve`: the page, a JSON API over the runs, PNGs generated
on demand by the loaded generators, and the run files (only those under the served folder).

Bad parameters are answered with 400 and a message; nothing is written into the runs.
"""
from __future__ import annotations

import io
import ipaddress
import math
import socket
from typing import Optional
from pathlib import Path

import torch
from flask import Flask, Response, jsonify, request, send_file, send_from_directory

from gankit.errors import GankitError
from gankit.web.runs import NotFound, RunIndex, class_label, inside
from gankit.plots import points_png
from gankit.metrics.neighbours import neighbour_rows

MAX_IMAGES = 64  # per generated grid
MAX_SEED = 2**31 - 1
SERVED_SUFFIXES = {".png", ".html", ".json", ".jsonl"}
STATIC = Path(__file__).parent / "static"


class BadParameter(ValueError):
    """A query parameter out of range or of the wrong type (answered with 400)."""


def number_arg(name: str, default, low, high, kind=int):
    """Query parameter ``name`` as ``kind`` (int or float) in [low, high], else BadParameter."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    what = "an integer" if kind is int else "a number"
    try:
        value = kind(raw)
    except ValueError:
        raise BadParameter(f"{name} must be {what} in [{low}, {high}], got {raw!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise BadParameter(f"{name} must be {what} in [{low}, {high}], got {raw}")
    return value


def png_response(run, samples: torch.Tensor, nrow: int) -> Response:
    """A grid of uint8 images (or a scatter of 2-D points) as image/png."""
    if run.shape.is_points:
        data = points_png(samples)
    else:
        from PIL import Image
        from torchvision.utils import make_grid

        grid = make_grid(samples, nrow=nrow, padding=2, pad_value=0)
        buffer = io.BytesIO()
        Image.fromarray(grid.permute(1, 2, 0).squeeze(-1).numpy() if grid.shape[0] == 1
                        else grid.permute(1, 2, 0).numpy()).save(buffer, format="PNG")
        data = buffer.getvalue()
    return Response(data, mimetype="image/png", headers={"Cache-Control": "no-store"})


def create_app(root: str | Path, device: str = "auto", generator: Optional[str] = None,
               checkpoint: str = "last") -> Flask:
    """The app serving the runs under ``root`` (generators on ``device``; ``generator``: "ema", "raw"
    or each run's default; ``checkpoint``: "last" or "best"; see ``gankit.run.load``)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise GankitError(f"{root} is not a folder: give the folder holding your runs (default runs)")
    index = RunIndex(root, device, generator, checkpoint)
    app = Flask(__name__, static_folder=None)
    app.config["gankit.index"] = index

    @app.errorhandler(BadParameter)
    @app.errorhandler(GankitError)
    def bad_request(err):
        return jsonify(error=str(err)), 400

    @app.errorhandler(NotFound)
    def not_found(err):
        return jsonify(error=f"no run or file {str(err)!r} under the served folder"), 404

    @app.errorhandler(404)
    def no_route(err):
        return jsonify(error="not found"), 404

    @app.get("/")
    def page():
        return send_from_directory(STATIC, "index.html")

    @app.get("/static/<name>")
    def static_file(name: str):
        return send_from_directory(STATIC, name)

    @app.get("/api/runs")
    def runs():
        return jsonify(index.summaries())

    @app.get("/api/run/<path:name>/details")
    def details(name: str):
        return jsonify(index.details(name))

    @app.get("/api/run/<path:name>/generate.png")
    def generate(name: str):
        run = index.run(name)
        n, seed = number_arg("n", 16, 1, MAX_IMAGES), number_arg("seed", 0, 0, MAX_SEED)
        samples = run.sample(n, class_label(run, request.args.get("class")), seed)
        return png_response(run, samples, nrow=math.ceil(math.sqrt(n)))

    @app.get("/api/run/<path:name>/interpolate.png")
    def interpolate(name: str):
        run = index.run(name)
        n = number_arg("n", 8, 1, MAX_IMAGES)
        a, b = number_arg("from", 0, 0, MAX_SEED), number_arg("to", 1, 0, MAX_SEED)
        alpha = number_arg("alpha", 0.5, 0.0, 1.0, float)
        samples = run.blend(a, b, alpha, n, class_label(run, request.args.get("class")))
        return png_response(run, samples, nrow=n)

    @app.get("/api/run/<path:name>/neighbours.png")
    def neighbours(name: str):
        run = index.run(name)
        if run.shape.is_points:
            raise BadParameter("nearest training images need an image run, not 2-D points")
        n, k, seed = number_arg("n", 4, 1, 16), number_arg("k", 5, 1, 10), number_arg("seed", 0, 0, MAX_SEED)
        samples = run.sample(n, class_label(run, request.args.get("class")), seed)
        return png_response(run, neighbour_rows(samples, index.training_set(name), k), nrow=k + 1)

    @app.get("/files/<path:relative>")
    def run_file(relative: str):
        path = inside(index.root, relative)
        if not path.is_file() or path.suffix.lower() not in SERVED_SUFFIXES:
            raise NotFound(relative)
        return send_file(path, max_age=0)

    return app


WAITRESS_THREADS = 4  # requests served at once off loopback: each may hold a generator on the CPU


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_wsgi_server(app, host: str, port: int):
    """(server, its port, what runs it). On loopback, werkzeug's threaded server (a local,
    single-user page); on any other address, waitress, a production WSGI server with a bounded
    thread pool. Either has ``run()`` and ``close()``."""
    try:
        if is_loopback(host):
            from werkzeug.serving import make_server

            with socket.create_server((host, port)):  # probe: werkzeug prints its own advice and exits when taken
                pass
            server = make_server(host, port, app, threaded=True)
            server.run, server.close = server.serve_forever, server.server_close
            return server, server.server_port, "werkzeug"
        from waitress import create_server

        server = create_server(app, host=host, port=port, threads=WAITRESS_THREADS)
        return server, getattr(server, "effective_port", port), f"waitress, {WAITRESS_THREADS} threads"
    except OSError as err:
        raise GankitError(f"cannot listen on {host}:{port} ({err.strerror or err}): choose another --port") from None


def serve(root: str, host: str = "127.0.0.1", port: int = 8000, device: str = "auto",
          say=print, generator: Optional[str] = None, checkpoint: str = "last") -> None:
    """Serve ``root`` until Ctrl-C (see ``make_wsgi_server``)."""
    app = create_app(root, device, generator, checkpoint)
    server, bound, runner = make_wsgi_server(app, host, port)
    say(f"gankit serve: {Path(root).resolve()} at http://{host}:{bound}/ ({runner}; Ctrl-C stops)")
    if not is_loopback(host):
        say(f"gankit serve: anyone who can reach {host}:{bound} can browse these runs and make this machine generate "
            "images; there is no login")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
