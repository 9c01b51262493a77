"""Data set downloads against a local HTTP server: a verified file lands whole, a
wrong hash or a cut connection leaves nothing; and CIFAR-10's binary format, read
from small files written here."""
import gzip
import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading

import numpy as np
import pytest

import cydl
from cydl.datasets import _download, _files

PAYLOAD = bytes(range(256)) * 300          # 76,800 bytes: several reads of a socket
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    requests = []

    def do_GET(self):  # noqa: N802  (http.server's name)
        _Handler.requests.append(self.path)
        if self.path == "/good.bin":
            self._send(PAYLOAD)
        elif self.path == "/cut.bin":
            # announce the whole file, send half of it, hang up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)

    def _send(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.requests = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """CYDL_DATA_DIR and HOME in tmp_path: nothing real is found, nothing real written."""
    monkeypatch.setenv("CYDL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # the real search path also holds ../shared/data (from the working directory and
    # the checkout), where real files may be: only the two folders above here
    monkeypatch.setattr(_files, "search_dirs", lambda: [
        tmp_path / "data", tmp_path / "home" / ".cydl" / "datasets"])
    return tmp_path / "data"


def _register(monkeypatch, name, urls, sha256=SHA, size=None):
    monkeypatch.setitem(_download.REGISTRY, ("test-set", name),
                        _download.Remote(tuple(urls), sha256, size))


def _closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/gone.bin"


def test_download_verifies_and_lands_whole(server, data_home, monkeypatch, capsys):
    _register(monkeypatch, "good.bin", [f"{server}/good.bin"], size=len(PAYLOAD))
    folder = _files.find("test-set", ["good.bin"])
    assert folder == data_home / "test-set"
    assert (folder / "good.bin").read_bytes() == PAYLOAD
    assert os.listdir(folder) == ["good.bin"]               # no temporary file left
    assert "Downloading good.bin" in capsys.readouterr().err
    # found locally the second time: no new request
    assert _files.find("test-set", ["good.bin"]) == folder
    assert _Handler.requests == ["/good.bin"]


def test_checksum_mismatch_is_refused_and_leaves_nothing(server, tmp_path):
    wrong = hashlib.sha256(b"something else").hexdigest()
    target = tmp_path / "good.bin"
    with pytest.raises(_download.ChecksumError, match="SHA-256"):
        _download.download(f"{server}/good.bin", target, wrong, progress=False)
    assert os.listdir(tmp_path) == []
    # a size that does not match is refused as well
    with pytest.raises(_download.ChecksumError, match="expected 5"):
        _download.download(f"{server}/good.bin", target, SHA, size=5, progress=False)
    assert os.listdir(tmp_path) == []


def test_checksum_mismatch_through_load_path(server, data_home, monkeypatch):
    _register(monkeypatch, "good.bin", [f"{server}/good.bin"],
              sha256=hashlib.sha256(b"x").hexdigest())
    with pytest.raises(FileNotFoundError, match="does not match the pinned"):
        _files.find("test-set", ["good.bin"])
    assert os.listdir(data_home / "test-set") == []


def test_interrupted_download_leaves_no_partial_file(server, tmp_path):
    with pytest.raises(_download.IncompleteDownloadError, match="closed after 38400 of 76800"):
        _download.download(f"{server}/cut.bin", tmp_path / "cut.bin", SHA, progress=False)
    assert os.listdir(tmp_path) == []


def test_an_existing_file_survives_a_failed_download(server, tmp_path):
    target = tmp_path / "good.bin"
    target.write_bytes(b"previous")
    with pytest.raises(OSError):
        _download.download(f"{server}/cut.bin", target, SHA, progress=False)
    assert target.read_bytes() == b"previous" and os.listdir(tmp_path) == ["good.bin"]


def test_next_mirror_after_a_failure(server, data_home, monkeypatch):
    _register(monkeypatch, "good.bin", [f"{server}/missing.bin", f"{server}/cut.bin",
                                        f"{server}/good.bin"])
    path = _download.fetch("test-set", "good.bin", progress=False)
    assert path.read_bytes() == PAYLOAD
    assert _Handler.requests == ["/missing.bin", "/cut.bin", "/good.bin"]


def test_a_file_without_a_pin_is_never_downloaded(server, data_home, monkeypatch):
    _register(monkeypatch, "good.bin", [f"{server}/good.bin"], sha256=None)
    with pytest.raises(FileNotFoundError, match="no pinned SHA-256"):
        _files.find("test-set", ["good.bin"])
    assert _Handler.requests == []


def test_offline_gives_the_clear_error(data_home, monkeypatch):
    _register(monkeypatch, "gone.bin", [_closed_port_url()])
    with pytest.raises(FileNotFoundError) as info:
        _files.find("test-set", ["gone.bin"])
    message = str(info.value)
    assert "downloading failed" in message and "CYDL_DATA_DIR" in message
    assert str(data_home / "test-set") in message       # where it looked


def test_default_cache_is_home_dot_cydl(server, tmp_path, monkeypatch):
    monkeypatch.delenv("CYDL_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    cache = tmp_path / ".cydl" / "datasets"
    assert cache in _files.search_dirs()          # where later loads look first
    _register(monkeypatch, "good.bin", [f"{server}/good.bin"])
    assert _download.fetch("test-set", "good.bin", progress=False) == \
        cache / "test-set" / "good.bin"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can write to a read-only folder")
def test_read_only_data_dir_falls_back_to_the_cache(server, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    (shared / "test-set").mkdir(parents=True)
    os.chmod(shared / "test-set", 0o555)
    monkeypatch.setenv("CYDL_DATA_DIR", str(shared))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    _register(monkeypatch, "good.bin", [f"{server}/good.bin"])
    try:
        path = _download.fetch("test-set", "good.bin", progress=False)
    finally:
        os.chmod(shared / "test-set", 0o755)
    assert path == tmp_path / "home" / ".cydl" / "datasets" / "test-set" / "good.bin"


def test_unknown_files_are_not_downloaded(data_home):
    with pytest.raises(FileNotFoundError, match="no download source"):
        _files.find("no-such-set", ["x.bin"])


def test_registry_pins_are_well_formed():
    for (subdir, name), remote in _download.REGISTRY.items():
        assert remote.sha256 and len(remote.sha256) == 64 and \
            int(remote.sha256, 16) >= 0, name
        assert remote.urls and all(u.startswith(("https://", "http://")) for u in remote.urls)


def test_pins_match_the_local_data_files():
    """The pins against the md5-verified files in the shared data folder, when present."""
    from conftest import data_dir
    checked = 0
    for (subdir, name), remote in _download.REGISTRY.items():
        path = data_dir() / subdir / name
        if path.exists():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == remote.sha256, path
            checked += 1
    if not checked:
        pytest.skip(f"no data files in {data_dir()} to check the pins against")


def test_california_housing_is_derived_from_the_archive(server, data_home, monkeypatch):
    """cal_housing.tgz -> cal_housing.data (its hash checked) -> cal_housing.data.gz."""
    data = b"-122.23,37.88,41.0,880.0,129.0,322.0,126.0,8.3252,452600.0\n" * 3
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("CaliforniaHousing/cal_housing.data")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    archive = buf.getvalue()

    class Handler(_Handler):
        def do_GET(self):  # noqa: N802
            self._send(archive)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setitem(_download.REGISTRY, ("california-housing", "cal_housing.tgz"),
                            _download.Remote((f"http://127.0.0.1:{httpd.server_address[1]}/a",),
                                             hashlib.sha256(archive).hexdigest()))
        monkeypatch.setattr(_download, "_CAL_HOUSING_DATA_SHA256",
                            hashlib.sha256(data).hexdigest())
        folder = _files.find("california-housing", ["cal_housing.data.gz"])
        assert gzip.decompress((folder / "cal_housing.data.gz").read_bytes()) == data
        assert os.listdir(folder) == ["cal_housing.data.gz"]     # the archive is removed
        # content that does not match the pinned data hash is refused
        os.remove(folder / "cal_housing.data.gz")
        monkeypatch.setattr(_download, "_CAL_HOUSING_DATA_SHA256", "0" * 64)
        with pytest.raises(FileNotFoundError, match="expected SHA-256"):
            _files.find("california-housing", ["cal_housing.data.gz"])
        assert os.listdir(folder) == []
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---------------------------------------------------------------- CIFAR-10 binary
def _cifar_files(rng, counts=(3, 2, 4, 1, 2), n_test=3):
    """{file name: bytes} in the official record format, and the images and labels
    they hold (images made first, records encoded from them plane by plane)."""
    files, images, labels = {}, {}, {}
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name, n in zip(names, list(counts) + [n_test]):
        img = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        lab = rng.integers(0, 10, n, dtype=np.uint8)
        records = b"".join(bytes([lab[i]]) + img[i, :, :, 0].tobytes()
                           + img[i, :, :, 1].tobytes() + img[i, :, :, 2].tobytes()
                           for i in range(n))
        files[name], images[name], labels[name] = records, img, lab
    return files, images, labels


def _check(loaded, images, labels):
    (x, y), (xt, yt) = loaded
    train = [f"data_batch_{i}.bin" for i in range(1, 6)]
    np.testing.assert_array_equal(x, np.concatenate([images[n] for n in train]))
    np.testing.assert_array_equal(y[:, 0], np.concatenate([labels[n] for n in train]))
    np.testing.assert_array_equal(xt, images["test_batch.bin"])
    np.testing.assert_array_equal(yt[:, 0], labels["test_batch.bin"])
    assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8
    assert x.shape[1:] == (32, 32, 3) and y.shape == (len(x), 1) and yt.shape == (len(xt), 1)
    assert x.flags.c_contiguous and xt.flags.c_contiguous


def _write_tar(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_cifar10_reads_the_unpacked_folder(data_home):
    files, images, labels = _cifar_files(np.random.default_rng(0))
    folder = data_home / "cifar-10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    _check(cydl.datasets.cifar10.load_data(), images, labels)
    _check(cydl.datasets.cifar10.load_data(path=folder), images, labels)


def test_cifar10_reads_the_archive(data_home):
    files, images, labels = _cifar_files(np.random.default_rng(1))
    (data_home / "cifar-10").mkdir(parents=True)
    archive = data_home / "cifar-10" / "cifar-10-binary.tar.gz"
    _write_tar(archive, files)
    _check(cydl.datasets.cifar10.load_data(), images, labels)
    _check(cydl.datasets.cifar10.load_data(path=archive), images, labels)
    _check(cydl.datasets.cifar10.load_data(path=str(archive.parent)), images, labels)


def test_cifar10_is_downloaded_when_missing(server, data_home, monkeypatch):
    files, images, labels = _cifar_files(np.random.default_rng(2))
    buf = data_home.parent / "served.tar.gz"
    _write_tar(buf, files)
    archive = buf.read_bytes()

    class Handler(_Handler):
        def do_GET(self):  # noqa: N802
            self._send(archive)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setitem(_download.REGISTRY, ("cifar-10", "cifar-10-binary.tar.gz"),
                            _download.Remote((f"http://127.0.0.1:{httpd.server_address[1]}/c",),
                                             hashlib.sha256(archive).hexdigest(), len(archive)))
        _check(cydl.datasets.cifar10.load_data(), images, labels)
        assert (data_home / "cifar-10" / "cifar-10-binary.tar.gz").read_bytes() == archive
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_cifar10_missing_says_where_to_put_the_files(data_home, monkeypatch):
    monkeypatch.setitem(_download.REGISTRY, ("cifar-10", "cifar-10-binary.tar.gz"),
                        _download.Remote((_closed_port_url(),), "0" * 64))
    with pytest.raises(FileNotFoundError) as info:
        cydl.datasets.cifar10.load_data()
    message = str(info.value)
    for part in ("cifar-10-binary.tar.gz", "'cifar-10'", "CYDL_DATA_DIR",
                 "cifar-10-batches-bin", "never unpickles"):
        assert part in message
    with pytest.raises(FileNotFoundError, match="cifar-10-binary.tar.gz"):
        cydl.datasets.cifar10.load_data(path=data_home / "nowhere")


def test_cifar10_bad_files_are_named(data_home):
    files, _, _ = _cifar_files(np.random.default_rng(3))
    folder = data_home / "bad"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "data_batch_2.bin").write_bytes(files["data_batch_2.bin"][:-1])
    with pytest.raises(ValueError, match="data_batch_2.bin: 6145 bytes .* 3073-byte"):
        cydl.datasets.cifar10.load_data(path=folder)
    bad_label = bytearray(files["data_batch_2.bin"])
    bad_label[3073] = 10                                   # record 1's label byte
    (folder / "data_batch_2.bin").write_bytes(bytes(bad_label))
    with pytest.raises(ValueError, match="record 1 has the label 10"):
        cydl.datasets.cifar10.load_data(path=folder)
    not_tar = data_home / "cifar.tar.gz"
    not_tar.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="not a readable tar archive"):
        cydl.datasets.cifar10.load_data(path=not_tar)
    with pytest.raises(TypeError, match="path=3"):
        cydl.datasets.cifar10.load_data(path=3)


def test_cifar10_real_files_when_present():
    from conftest import data_dir
    d = data_dir() / "cifar-10"
    if not (d / "cifar-10-binary.tar.gz").exists() and not (d / "cifar-10-batches-bin").exists():
        pytest.skip(f"CIFAR-10 not found in {d}")
    (x, y), (xt, yt) = cydl.datasets.cifar10.load_data(path=d)
    assert x.shape == (50000, 32, 32, 3) and xt.shape == (10000, 32, 32, 3)
    # the published class balance: 5000 and 1000 images per class
    assert np.bincount(y[:, 0]).tolist() == [5000] * 10
    assert np.bincount(yt[:, 0]).tolist() == [1000] * 10
