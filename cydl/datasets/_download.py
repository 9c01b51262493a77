"""Downloading missing data files, as Keras' load_data() does, with pinned SHA-256s.

Each file cydl may fetch is listed in REGISTRY with the URLs to try (official
source first where it still serves the file) and the SHA-256 that the bytes must
have. A download goes to a temporary file beside the target, is hashed as it
arrives, and is renamed over the target only when its length and hash are right:
an interrupted or corrupted download leaves nothing behind. A file without a
pinned hash is never downloaded. Only urllib is used.

Where the pins come from:
* Fashion-MNIST and MNIST: computed from the md5-verified official files in the
  project's shared data folder; they equal the values TensorFlow Datasets pins
  (tensorflow/datasets, url_checksums/fashion_mnist.txt and mnist.txt).
* cifar-10-binary.tar.gz: TensorFlow Datasets' pin (url_checksums/cifar10.txt,
  170052171 bytes), which other public projects pin as well.
* cal_housing.tgz: scikit-learn's pin (sklearn/datasets/_california_housing.py);
  the data file taken out of it must also match the SHA-256 of the md5-verified
  cal_housing.data in the shared data folder.
"""
import gzip
import hashlib
import os
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Remote:
    """A file cydl may download: the URLs to try in order, its SHA-256 (None: never
    downloaded) and, when known, its size in bytes."""
    urls: tuple
    sha256: object = None
    size: object = None


class ChecksumError(ValueError):
    """The downloaded bytes do not have the pinned SHA-256."""


class IncompleteDownloadError(OSError):
    """The server closed the connection before the whole file arrived."""


_FASHION = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",    # Zalando's
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/")   # Keras'
# yann.lecun.com often refuses downloads now: the mirrors TFDS and torchvision use
# come first (the pinned hash makes every mirror as good as the original)
_MNIST = ("https://storage.googleapis.com/cvdf-datasets/mnist/",
          "https://ossci-datasets.s3.amazonaws.com/mnist/",
          "http://yann.lecun.com/exdb/mnist/")


def _at(bases, name):
    return tuple(base + name for base in bases)


REGISTRY = {
    ("fashion-mnist", "train-images-idx3-ubyte.gz"): Remote(
        _at(_FASHION, "train-images-idx3-ubyte.gz"),
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
    ("fashion-mnist", "train-labels-idx1-ubyte.gz"): Remote(
        _at(_FASHION, "train-labels-idx1-ubyte.gz"),
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
    ("fashion-mnist", "t10k-images-idx3-ubyte.gz"): Remote(
        _at(_FASHION, "t10k-images-idx3-ubyte.gz"),
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
    ("fashion-mnist", "t10k-labels-idx1-ubyte.gz"): Remote(
        _at(_FASHION, "t10k-labels-idx1-ubyte.gz"),
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    ("mnist", "train-images-idx3-ubyte.gz"): Remote(
        _at(_MNIST, "train-images-idx3-ubyte.gz"),
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
    ("mnist", "train-labels-idx1-ubyte.gz"): Remote(
        _at(_MNIST, "train-labels-idx1-ubyte.gz"),
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    ("mnist", "t10k-images-idx3-ubyte.gz"): Remote(
        _at(_MNIST, "t10k-images-idx3-ubyte.gz"),
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
    ("mnist", "t10k-labels-idx1-ubyte.gz"): Remote(
        _at(_MNIST, "t10k-labels-idx1-ubyte.gz"),
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
    ("cifar-10", "cifar-10-binary.tar.gz"): Remote(
        ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", 170052171),
    ("california-housing", "cal_housing.tgz"): Remote(
        ("https://ndownloader.figshare.com/files/5976036",
         "https://www.dcc.fc.up.pt/~ltorgo/Regression/cal_housing.tgz"),
        "aaa5c9a6afe2225cc2aed2723682ae403280c4a3695a2ddda4ffb5d8215ea681", 441963),
}

# cal_housing.data, the member of cal_housing.tgz that cydl reads (gzipped)
_CAL_HOUSING_DATA_SHA256 = "a2b44dcc7e1c9091b43c4f458b25cbd1f7e8068d08edd26bc4703108d3fa6214"

_CHUNK = 1 << 20
_TIMEOUT = 60       # seconds without data before a download counts as failed


def download_dir(subdir):
    """Where a missing file of `subdir` is downloaded: $CYDL_DATA_DIR/subdir when
    that can be written to, else ~/.cydl/datasets/subdir."""
    env = os.environ.get("CYDL_DATA_DIR")
    if env:
        folder = Path(env) / subdir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            pass        # a read-only data folder: the user cache takes the download
    folder = Path.home() / ".cydl" / "datasets" / subdir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class _Progress:
    """One stderr line: redrawn in place on a terminal, else a line at the start
    and one at the end (logs stay readable)."""

    def __init__(self, name, total, stream=None):
        self.name, self.total = name, total
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0

    def _text(self, done):
        mb = done / 1e6
        if self.total:
            return f"Downloading {self.name}: {100 * done / self.total:5.1f}% " \
                   f"({mb:.1f} of {self.total / 1e6:.1f} MB)"
        return f"Downloading {self.name}: {mb:.1f} MB"

    def start(self, url):
        size = f" ({self.total / 1e6:.1f} MB)" if self.total else ""
        if not self.live:
            print(f"Downloading {self.name} from {url}{size}", file=self.stream, flush=True)

    def update(self, done):
        now = time.monotonic()
        if self.live and now - self.last > 0.1:
            self.last = now
            print("\r" + self._text(done), end="", file=self.stream, flush=True)

    def finish(self, done, ok):
        if self.live:
            print("\r" + self._text(done) + (" done" if ok else " failed"),
                  file=self.stream, flush=True)
        elif ok:
            print(f"Downloaded {self.name} ({done / 1e6:.1f} MB)", file=self.stream,
                  flush=True)


def download(url, path, sha256, size=None, progress=True):
    """Download `url` to `path` if its bytes have the SHA-256 `sha256`.

    The bytes go to a temporary file beside `path`, renamed over it only when
    complete and verified, so that `path` either is the verified file or does
    not change.

    Args:
        url: the http(s) URL.
        path: the file to write.
        sha256: the expected SHA-256, hex.
        size: the expected size in bytes, or None.
        progress: write a progress line to stderr.

    Raises:
        ChecksumError: the bytes have another hash (or size): nothing is written.
        IncompleteDownloadError: the connection closed early: nothing is written.
        OSError: urllib's errors (no network, HTTP errors, ...).

    Example:

    >>> download("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    ...          "cifar-10-binary.tar.gz", REGISTRY["cifar-10", "cifar-10-binary.tar.gz"].sha256)
    """
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"Only http(s) URLs are downloaded. Received: url={url!r}")
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise ValueError(f"A download needs the file's SHA-256 (64 hex digits). Received: "
                         f"sha256={sha256!r}")
    path = Path(path)
    name = path.name
    request = urllib.request.Request(url, headers={"User-Agent": "cydl-datasets/1 (urllib)"})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".part")
    bar = None
    done = 0
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(request, timeout=_TIMEOUT) as r:
            length = r.headers.get("Content-Length")
            length = int(length) if length and length.isdigit() else None
            bar = _Progress(name, length or size) if progress else None
            if bar:
                bar.start(url)
            digest = hashlib.sha256()
            while True:
                chunk = r.read(_CHUNK)
                if not chunk:
                    break
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if bar:
                    bar.update(done)
            # http.client returns a short body without an error when the server
            # closes early: the length is checked here
            if length is not None and done != length:
                raise IncompleteDownloadError(
                    f"{url}: the connection closed after {done} of {length} bytes")
            if size is not None and done != size:
                raise ChecksumError(f"{url}: got {done} bytes, expected {size}; the file "
                                    f"was not saved")
            if digest.hexdigest() != sha256.lower():
                raise ChecksumError(f"{url}: SHA-256 {digest.hexdigest()} does not match the "
                                    f"pinned {sha256.lower()}; the file was not saved")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if bar:
            bar.finish(done, ok=False)
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    if bar:
        bar.finish(done, ok=True)
    return path


def fetch(subdir, name, folder=None, progress=True):
    """Download the registered file `name` of `subdir` into `folder` (default:
    download_dir(subdir)), trying each of its URLs; its path.

    Raises:
        LookupError: cydl has no source for this file, or no pinned SHA-256 (it
            never downloads a file it cannot verify).
        OSError: every URL failed; the message lists why.
    """
    if (subdir, name) == ("california-housing", "cal_housing.data.gz"):
        return _fetch_cal_housing(folder, progress)
    remote = REGISTRY.get((subdir, name))
    if remote is None:
        raise LookupError(f"cydl has no download source for {subdir}/{name}")
    folder = Path(folder) if folder is not None else download_dir(subdir)
    if not remote.sha256:
        raise LookupError(f"cydl has no pinned SHA-256 for {subdir}/{name}, so it will not "
                          f"download it (it could not check the bytes). Download it "
                          f"yourself from {remote.urls[0]} into {folder}")
    errors = []
    for url in remote.urls:
        try:
            return download(url, folder / name, remote.sha256, remote.size, progress)
        except (OSError, ValueError) as e:      # the next mirror may serve the right bytes
            errors.append(f"{url}: {_reason(e)}")
    raise OSError(f"Could not download {name}: " + "; ".join(errors))


def _reason(e):
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return f"{e.reason}"
    return str(e)


def _fetch_cal_housing(folder, progress):
    """scikit-learn's cal_housing.tgz, verified; cal_housing.data from it, verified
    again, stored gzipped as cal_housing.data.gz (the file the loader reads)."""
    folder = Path(folder) if folder is not None else download_dir("california-housing")
    archive = fetch("california-housing", "cal_housing.tgz", folder, progress)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.getmember("CaliforniaHousing/cal_housing.data")
            if not member.isfile():
                raise ChecksumError(f"{archive}: CaliforniaHousing/cal_housing.data is not "
                                    f"a regular file")
            data = tar.extractfile(member).read()
    except (KeyError, tarfile.TarError) as e:     # verified bytes, so hardly ever
        raise ChecksumError(f"{archive} does not hold CaliforniaHousing/cal_housing.data "
                            f"({e})") from None
    finally:
        os.remove(archive)
    if hashlib.sha256(data).hexdigest() != _CAL_HOUSING_DATA_SHA256:
        raise ChecksumError("cal_housing.data from cal_housing.tgz does not have the "
                            "expected SHA-256; nothing was saved")
    target = folder / "cal_housing.data.gz"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".cal_housing.data.gz.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            # mtime=0: the same bytes on every machine
            with gzip.GzipFile(filename="cal_housing.data", mode="wb", fileobj=f,
                               compresslevel=9, mtime=0) as gz:
                gz.write(data)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return target


def fetch_missing(subdir, names, progress=True):
    """Download those of `names` that are missing from download_dir(subdir); the
    folder. LookupError when one of them cannot be downloaded."""
    for name in names:
        if (subdir, name) not in REGISTRY and \
                (subdir, name) != ("california-housing", "cal_housing.data.gz"):
            raise LookupError(f"cydl has no download source for {subdir}/{name}")
        remote = REGISTRY.get((subdir, name))
        if remote is not None and not remote.sha256:
            raise LookupError(f"cydl has no pinned SHA-256 for {subdir}/{name}, so it will "
                              f"not download it")
    folder = download_dir(subdir)
    for name in names:
        if not (folder / name).exists():
            fetch(subdir, name, folder, progress)
    return folder


__all__ = ["REGISTRY", "Remote", "download", "fetch", "fetch_missing", "download_dir",
           "ChecksumError", "IncompleteDownloadError"]

