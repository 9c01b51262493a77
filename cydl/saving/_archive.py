"""Files: written atomically, read with limits.

A save writes a temporary file next to the target and renames it over the target
at the end, so a crash during a save leaves the previous file whole. A load reads
zip members into memory after checking what they declare, so a small hostile
archive cannot make it allocate without bound.
"""
import os
import tempfile
import zipfile

# A member may declare far more bytes than it stores only when compressed; past
# this floor, more than this factor is a decompression bomb (Keras' own rule).
BOMB_FLOOR = 1 << 30
BOMB_FACTOR = 100


def atomic_write(path, write):
    """write(file object) into a temporary file beside path, then rename it over path."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); a saved model gets the permissions
        # any new file would (0666 less the umask), as Keras' do
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def open_zip(path, what):
    """The zip archive at path; ValueError when it is not one."""
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{what} is not a .keras file (not a zip archive)") from None
    except IsADirectoryError:
        raise ValueError(f"{what} is a directory; cydl reads zipped .keras files") from None


def read_member(archive, name, what):
    """The bytes of a zip member; ValueError when it is corrupt or a bomb."""
    info = archive.getinfo(name)
    if info.file_size > BOMB_FLOOR and info.file_size > BOMB_FACTOR * max(info.compress_size, 1):
        raise ValueError(f"{what}: member {name!r} declares {info.file_size} bytes but "
                         f"stores {info.compress_size}: refused (a decompression bomb)")
    try:
        with archive.open(info) as f:
            data = f.read(info.file_size + 1)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as e:
        raise ValueError(f"{what}: member {name!r} cannot be read ({e}); the file is "
                         f"truncated or corrupt") from None
    if len(data) != info.file_size:
        raise ValueError(f"{what}: member {name!r} is not the size it declares")
    return data
