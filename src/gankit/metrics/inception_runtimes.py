"""The converted FID Inception's runtimes (OpenVINO, ONNX Runtime), each run in a worker process.

Why a process of its own: OpenVINO's CPU plugin (TBB threads, its own oneDNN) loaded beside torch
(OpenMP, torch's oneDNN) in one process crashed the test suite with a segmentation fault once
torch trained again after an evaluation — the situation of every ``--eval-every`` run. So the
process that trains never imports a runtime: the conversion runs in a short-lived child (torch and
the runtime, nothing else), and inference in a long-lived worker that imports numpy and the
runtime only. This module is that worker's code and imports neither torch nor a runtime at the top.

The worker's protocol, on its stdin and stdout: each message is a kind byte, an 8-byte
little-endian length and the payload. The parent sends ``X`` (float32 (N, 3, 299, 299), C order)
or ``Q`` (quit); the worker answers ``I`` once on start (JSON: runtime, version, properties),
``F`` per batch (float32 (N, 2048)) or ``E`` (an error line, after which it exits).
"""
from __future__ import annotations

import json
import os
import signal
import struct
import sys
from abc import ABC, abstractmethod
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import BinaryIO

INPUT_SIZE = 299
NUM_FEATURES = 2048
HEADER = struct.Struct("<cQ")


class Runtime(ABC):
    """One inference runtime: how the trunk is converted for it, loaded and run."""

    name = ""
    suffix = ""  # the converted model's file name in its cache folder
    requires: tuple[str, ...] = ()  # modules it imports; their PyPI names are the same

    def version(self) -> str:
        """The installed runtime's version (part of the cache key), read without importing it."""
        return dist_version(self.requires[0])

    @abstractmethod
    def convert(self, net, path: Path) -> None:
        """Write the runtime's model of the torch module ``net`` to ``path`` (in the converting child)."""

    @abstractmethod
    def load(self, path: Path, threads: int):
        """The runnable session of the model at ``path`` on ``threads`` CPU threads."""

    @abstractmethod
    def run(self, session, x):
        """float32 numpy (N, 3, 299, 299) → float32 numpy (N, 2048)."""

    def describe(self, session) -> dict:
        """Properties of the loaded session worth recording."""
        return {}


class OpenVINO(Runtime):
    """Intel's OpenVINO on the CPU: f32 inference (on CPUs with bf16 instructions its default is
    bf16, whose features are ~20 % off), one latency stream over the given threads."""

    name, suffix, requires = "openvino", "inception.xml", ("openvino",)

    def convert(self, net, path: Path) -> None:
        import warnings

        import openvino as ov
        import torch

        with warnings.catch_warnings():  # convert_model traces with torch.jit, which warns of its deprecation
            warnings.simplefilter("ignore", FutureWarning)
            model = ov.convert_model(net, example_input=torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE))
        model.reshape([-1, 3, INPUT_SIZE, INPUT_SIZE])  # any batch, fixed image size
        ov.save_model(model, str(path), compress_to_fp16=False)  # fp16 weights would not be exact

    def load(self, path: Path, threads: int):
        import openvino as ov

        # No CPU pinning: OpenVINO pins its threads from core 0 up, so every worker of a single thread
        # (a sweep's parallel evals, DDP ranks, two `gankit eval`s) landed on core 0 and the others idled.
        return ov.Core().compile_model(str(path), "CPU", {
            "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads, "CPU_DENORMALS_OPTIMIZATION": True, "ENABLE_CPU_PINNING": False})

    def run(self, session, x):
        return session(x)[0]

    def describe(self, session) -> dict:
        return dict(inference_precision=session.get_property("INFERENCE_PRECISION_HINT").get_type_name(),
                    cpu_pinning=bool(session.get_property("ENABLE_CPU_PINNING")))


class ONNXRuntime(Runtime):
    """Microsoft's ONNX Runtime, CPU execution provider (torch's ONNX exporter needs ``onnx``)."""

    name, suffix, requires = "onnxruntime", "inception.onnx", ("onnxruntime", "onnx")

    def convert(self, net, path: Path) -> None:
        import warnings

        import torch

        with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE),), str(path), dynamo=False,
                              input_names=["x"], output_names=["features"], dynamic_axes={"x": {0: "n"}})

    def load(self, path: Path, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # Idle threads that spin fight the parent's for the cores between batches: 20 -> 28 images/s here.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(self, session, x):
        return session.run(None, {"x": x})[0]

    def describe(self, session) -> dict:
        return dict(providers=session.get_providers())


RUNTIMES: dict[str, Runtime] = {r.name: r for r in (OpenVINO(), ONNXRuntime())}


# --- the message framing, both sides ------------------------------------------------------------
def send(stream: BinaryIO, kind: bytes, payload: bytes | memoryview = b"") -> None:
    """Write one message and flush it."""
    stream.write(HEADER.pack(kind, len(payload)))
    stream.write(payload)
    stream.flush()


def receive(stream: BinaryIO) -> tuple[bytes, bytearray]:
    """Read one message; EOF is ``(b"", empty)``."""
    header = read_exactly(stream, HEADER.size)
    if header is None:
        return b"", bytearray()
    kind, length = HEADER.unpack(header)
    payload = read_exactly(stream, length)
    if payload is None:
        raise EOFError("the other side closed the pipe mid-message")
    return kind, payload


def read_exactly(stream: BinaryIO, n: int):
    """``n`` bytes, or None at EOF before the first byte."""
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        chunk = stream.readinto(view[got:])
        if not chunk:
            if got == 0:
                return None
            raise EOFError("the other side closed the pipe mid-message")
        got += chunk
    return buffer


# --- the worker's side --------------------------------------------------------------------------
def serve(runtime: Runtime, path: Path, threads: int, inbox: BinaryIO, outbox: BinaryIO) -> None:
    """Load the model and answer batches until told to quit or the parent goes away."""
    import numpy as np

    session = runtime.load(path, threads)
    send(outbox, b"I", json.dumps(dict(runtime=runtime.name, version=runtime.version(), pid=os.getpid(),
                                       **runtime.describe(session))).encode())
    while True:
        kind, payload = receive(inbox)
        if kind in (b"", b"Q"):
            return
        x = np.frombuffer(payload, dtype=np.float32).reshape(-1, 3, INPUT_SIZE, INPUT_SIZE)
        features = np.ascontiguousarray(runtime.run(session, x), dtype=np.float32)
        send(outbox, b"F", memoryview(features).cast("B"))


def convert(runtime: Runtime, module_file: Path, path: Path) -> None:
    """Convert the torch module saved in ``module_file`` (``torch.save`` of the trunk) to ``path``."""
    import torch

    net = torch.load(module_file, map_location="cpu", weights_only=False).eval()
    with torch.no_grad():
        runtime.convert(net, path)


def main(argv: list[str]) -> int:
    """``serve NAME MODEL THREADS`` or ``convert NAME MODULE_FILE MODEL``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it closes our stdin
    outbox = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a runtime prints goes to stderr, never into the protocol
    command, name = argv[0], argv[1]
    try:
        if command == "serve":
            serve(RUNTIMES[name], Path(argv[2]), int(argv[3]), sys.stdin.buffer, outbox)
        elif command == "convert":
            convert(RUNTIMES[name], Path(argv[2]), Path(argv[3]))
        else:
            raise ValueError(f"unknown command {command!r}")
    except BaseException as err:  # noqa: BLE001 - every failure becomes one line for the parent
        message = f"{type(err).__name__}: {str(err).strip().splitlines()[0][:300] if str(err).strip() else ''}"
        try:
            send(outbox, b"E", message.encode())
        except OSError:
            pass
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
