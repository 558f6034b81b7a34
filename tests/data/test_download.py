"""The downloader against a real HTTP server on loopback."""
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from spring_lib.data.download import DownloadError, fetch_files, uhcsdb_sources

PAYLOAD = bytes(range(256)) * 400
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server API
        if self.path not in ("/good.bin", "/truncated.bin"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        body = PAYLOAD if self.path == "/good.bin" else PAYLOAD[: len(PAYLOAD) // 3]
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _sources(url, sha=SHA, dest="images/a.bin"):
    return pd.DataFrame([{"dest": dest, "url": url, "sha256": sha}])


def test_good_file_is_verified_and_kept(server, tmp_path):
    fetch_files(_sources(f"{server}/good.bin"), tmp_path, progress=False)
    assert (tmp_path / "images" / "a.bin").read_bytes() == PAYLOAD
    # second run: already verified, no request needed (the URL is now dead)
    fetch_files(_sources(f"{server}/gone.bin"), tmp_path, progress=False)


def test_checksum_mismatch_is_rejected(server, tmp_path):
    with pytest.raises(DownloadError, match="mismatch"):
        fetch_files(_sources(f"{server}/good.bin", sha="0" * 64), tmp_path, progress=False)
    assert not (tmp_path / "images" / "a.bin").exists()


def test_truncated_transfer_is_rejected(server, tmp_path):
    with pytest.raises(DownloadError):
        fetch_files(_sources(f"{server}/truncated.bin"), tmp_path, progress=False)
    assert not (tmp_path / "images" / "a.bin").exists()


def test_existing_file_with_other_content_is_not_overwritten(server, tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.bin").write_bytes(b"my own work")
    with pytest.raises(DownloadError, match="Move it aside"):
        fetch_files(_sources(f"{server}/good.bin"), tmp_path, progress=False)
    assert (tmp_path / "images" / "a.bin").read_bytes() == b"my own work"


def test_offline_message_says_how_to_point_at_a_copy(tmp_path):
    with pytest.raises(DownloadError, match="SPRING_DATA_ROOT"):
        fetch_files(_sources("http://127.0.0.1:9/none.bin"), tmp_path, progress=False)


def test_uhcsdb_source_list_pins_every_labelled_image(data_root):
    src = uhcsdb_sources()
    labels = pd.read_csv(data_root / "labels.csv")
    assert len(src) == len(labels) + 1 and src["sha256"].str.fullmatch("[0-9a-f]{64}").all()
    assert set(src["sha256"]) >= set(labels["source_sha256"])
