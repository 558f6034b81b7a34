"""The model-hub path as a user with internet meets it, run for real on loopback.

A small HTTP server on 127.0.0.1 answers what huggingface_hub asks (HEAD for the metadata:
ETag and X-Repo-Commit; GET for the file) under /<repo>/resolve/<revision>/<file>. The study
loads a timm architecture's weights from it with `cnn.weights: imagenet`, into a temporary
HF_HOME, then again with HF_HUB_OFFLINE=1 and the server stopped, from that cache. Nothing may
connect anywhere but 127.0.0.1.
"""
import hashlib
import importlib
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from spring_lib.nets import probe, weights
from spring_lib.nets.models import build_model
from spring_lib.nets.weights import WeightsUnavailable
from spring_lib.core.architectures import ARCHITECTURES, Arm

ARCH = ARCHITECTURES["MobileNetV2"]      # the smallest paper architecture whose hub repo timm knows
COMMIT = "0123456789abcdef0123456789abcdef01234567"
LIFETIME_S = 120                         # the server stops itself after this, whatever happens


class Hub:
    """Files served as the Hugging Face hub serves them; `status` other than 200 answers every
    request with that status instead."""

    def __init__(self, files: dict[str, bytes], status: int = 200):
        self.files, self.status, self.requests = files, status, []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, body: bool):
                hub.requests.append((self.command, self.path))
                m = re.fullmatch(r"/(.+)/resolve/([^/]+)/(.+)", self.path.split("?")[0])
                data = hub.files.get(f"{m.group(1)}/{m.group(3)}") if m else None
                if hub.status != 200 or data is None:
                    code = hub.status if hub.status != 200 else 404
                    self.send_response(code)
                    if code == 404:
                        self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self):
                self._answer(False)

            def do_GET(self):
                self._answer(True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.timer = threading.Timer(LIFETIME_S, self.stop)
        self.timer.daemon = True

    def __enter__(self):
        self.thread.start()
        self.timer.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __exit__(self, *exc):
        self.timer.cancel()
        if self.thread.is_alive():
            self.stop()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def loopback_only(monkeypatch):
    """Any connection to an address other than 127.0.0.1 fails the test."""
    connect = socket.socket.connect

    def guarded(self, address):
        if isinstance(address, tuple) and address[0] != "127.0.0.1":
            raise AssertionError(f"the test tried to reach {address}")
        return connect(self, address)
    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def hub_env(monkeypatch, tmp_path, loopback_only):
    """Set the Hugging Face environment as a user's shell would, and re-read it the way a fresh
    process does (huggingface_hub reads it when imported)."""
    import huggingface_hub.constants as hc

    def use(endpoint: str, offline: bool = False):
        monkeypatch.delenv("SPRING_OFFLINE", raising=False)
        for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HTTP_PROXY", "HTTPS_PROXY",
                    "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
        importlib.reload(hc)
        weights.hub_unreachable.cache_clear()
        probe._extractor.cache_clear()
    yield use
    monkeypatch.undo()
    importlib.reload(hc)
    weights.hub_unreachable.cache_clear()
    probe._extractor.cache_clear()


@pytest.fixture(scope="module")
def served():
    """What the hub holds for the architecture: a full 1000-class timm checkpoint."""
    import timm
    from safetensors.torch import save

    torch.manual_seed(7)
    state = timm.create_model(ARCH.model_name, pretrained=False).state_dict()
    repo = timm.models.get_pretrained_cfg(ARCH.model_name).hf_hub_id
    return {f"{repo}/model.safetensors": save(state)}, state, repo


def _backbone(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.startswith("classifier.")}


def _assert_same_backbone(model, state):
    own = model.backbone.net.state_dict()
    expected = _backbone(state)
    assert set(own) == set(expected)
    assert all(torch.equal(own[k], v) for k, v in expected.items())


def test_weights_from_a_hub_then_from_its_cache_offline(hub_env, served, tmp_path):
    files, state, repo = served
    tiles = np.random.default_rng(0).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    with Hub(files) as hub:
        hub_env(hub.endpoint)
        # a mirror on a port of its own is asked there, and judged reachable
        assert weights.hub_address("timm") == ("127.0.0.1", int(hub.endpoint.rsplit(":", 1)[1]))
        assert weights.hub_unreachable(*weights.hub_address("timm")) is None
        model, desc = build_model(Arm.parse(f"{ARCH.name}-probe"), 5, "imagenet")
        feats = probe.FrozenFeatures(ARCH.name, "imagenet", cache_dir=None).fit(tiles)
        online = feats.texture_features(tiles)
    assert desc == "ImageNet (model hub)"
    _assert_same_backbone(model, state)   # bit for bit
    assert ("GET", f"/{repo}/resolve/main/model.safetensors") in hub.requests
    cached = tmp_path / "hf" / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / COMMIT
    assert (cached / "model.safetensors").exists()

    hub_env(hub.endpoint, offline=True)   # the server is stopped: only the cache can answer
    n = len(hub.requests)
    model, _ = build_model(Arm.parse(f"{ARCH.name}-TL"), 5, "imagenet")
    _assert_same_backbone(model, state)
    offline = probe.FrozenFeatures(ARCH.name, "imagenet", cache_dir=None).texture_features(tiles)
    np.testing.assert_array_equal(offline, online)
    assert len(hub.requests) == n


@pytest.mark.parametrize("status", [404, 500])
def test_a_hub_that_answers_an_error_gives_one_line_weights_unavailable(hub_env, served, status,
                                                                        monkeypatch):
    import huggingface_hub.utils._http as hub_http

    # the hub client retries a 500 with backoff (~45 s); the retries run, their waits do not
    monkeypatch.setattr(hub_http, "time", SimpleNamespace(sleep=lambda s: None))
    files, _, _ = served
    with Hub(files, status=status) as hub:
        hub_env(hub.endpoint)
        with pytest.raises(WeightsUnavailable) as err:
            build_model(Arm.parse(f"{ARCH.name}-TL"), 5, "imagenet")
    msg = str(err.value)
    assert "\n" not in msg and hub.requests
    assert msg.startswith(f"ImageNet weights for {ARCH.name}: they could not be downloaded")
    assert str(status) in msg and f"cnn.weights.{ARCH.name}" in msg


def test_an_endpoint_on_a_closed_port_is_unreachable_at_once(hub_env):
    port = closed_port()
    hub_env(f"http://127.0.0.1:{port}")
    with pytest.raises(WeightsUnavailable, match=f"127.0.0.1:{port} is not reachable") as err:
        build_model(Arm.parse(f"{ARCH.name}-probe"), 5, "imagenet")
    assert "\n" not in str(err.value)


def test_hf_hub_offline_with_an_empty_cache_is_unavailable_without_any_request(hub_env, served):
    files, _, _ = served
    with Hub(files) as hub:
        hub_env(hub.endpoint, offline=True)
        with pytest.raises(WeightsUnavailable, match="HF_HUB_OFFLINE=1 and they are not in the "
                                                     "Hugging Face cache"):
            build_model(Arm.parse(f"{ARCH.name}-TL"), 5, "imagenet")
    assert hub.requests == []
