"""Reading HDF5 weights: cydl's own files without h5py, any other file with it.

`read(data)` gives a tree of `H5Group`s (sub-groups, NumPy arrays, string
attributes) for the bytes of an HDF5 file. Files in the subset that
cydl.saving._h5write writes (version-2 superblock and object headers, compact
groups, contiguous numeric datasets) are parsed here, with every offset and size
checked against the file, so a cydl model loads on a bare numpy + scipy install.
Anything else, such as the files Keras writes through h5py, is read with h5py (the
"h5" extra); without it the error says how to install it.

Both readers refuse what a weights file never needs and an attacker could use:
soft and external links, external or virtual datasets, non-numeric data, and
datasets that claim far more memory than the file stores (shape bombs).
"""
import math
import struct

import numpy as np

from cydl.saving._h5write import SIGNATURE, UNDEF, lookup3

MAX_DEPTH = 64              # deeper than any model; a cycle of hard links ends here
MAX_OBJECTS = 1_000_000
# a dataset may declare more bytes than the file stores only when compressed; past
# this floor, more than this factor is a shape or decompression bomb (as in Keras)
BOMB_FLOOR = 1 << 30
BOMB_FACTOR = 1000


class H5Group:
    """One group of a weights file: `groups` and `datasets` by name, `attrs`."""

    def __init__(self):
        self.groups = {}
        self.datasets = {}
        self.attrs = {}

    def get(self, path):
        """The group at a "/"-separated path, or None."""
        node = self
        for part in path.split("/"):
            if part:
                node = node.groups.get(part)
                if node is None:
                    return None
        return node

    def paths(self, prefix=""):
        """Every group path below this one, depth first."""
        for name, sub in self.groups.items():
            path = f"{prefix}/{name}" if prefix else name
            yield path
            yield from sub.paths(path)


class _Unsupported(Exception):
    """Outside the subset this module parses: h5py reads it."""


def read(data, what="the HDF5 file"):
    """The tree of an HDF5 file's bytes; ValueError when it is corrupt or hostile."""
    data = bytes(data)
    if not data.startswith(SIGNATURE):
        raise ValueError(f"{what} is not an HDF5 file")
    try:
        return _Reader(data, what).root()
    except _Unsupported:
        pass
    from cydl.saving import _h5py_read
    return _h5py_read.read(data, what)


# ---------------------------------------------------------------- without h5py
class _Reader:
    def __init__(self, data, what):
        self.data, self.what = data, what
        self.count = 0

    def fail(self, why):
        raise ValueError(f"{self.what} is corrupt: {why}")

    def take(self, pos, n):
        if pos < 0 or n < 0 or pos + n > len(self.data):
            self.fail(f"{n} bytes at offset {pos} lie beyond its {len(self.data)} bytes "
                      f"(truncated?)")
        return self.data[pos:pos + n]

    def root(self):
        version = self.take(8, 1)[0]
        if version not in (2, 3):
            raise _Unsupported
        head = self.take(0, 44)
        if head[9] != 8 or head[10] != 8:
            raise _Unsupported
        base, _ext, _eof, root = struct.unpack("<QQQQ", head[12:44])
        if struct.unpack("<I", self.take(44, 4))[0] != lookup3(head):
            self.fail("superblock checksum mismatch")
        if base != 0:
            raise _Unsupported
        return self.group(root, 0, set())

    def messages(self, addr):
        """[(type, body)] of the version-2 object header at addr."""
        if self.take(addr, 4) != b"OHDR":
            if self.take(addr, 1)[0] == 1:      # a version-1 header: h5py's default
                raise _Unsupported
            self.fail(f"no object header at offset {addr}")
        version, flags = self.take(addr + 4, 2)
        if version != 2:
            self.fail(f"object header version {version} at offset {addr}")
        pos = addr + 6
        if flags & 0x20:
            pos += 16                    # access, modification, change, birth times
        if flags & 0x10:
            pos += 4                     # attribute phase change values
        width = 1 << (flags & 3)
        size = int.from_bytes(self.take(pos, width), "little")
        pos += width
        end = pos + size
        body = self.take(addr, end - addr)
        if struct.unpack("<I", self.take(end, 4))[0] != lookup3(body):
            self.fail(f"object header checksum mismatch at offset {addr}")
        out = []
        order = 2 if flags & 0x04 else 0
        while end - pos >= 4 + order:
            kind, n, _mflags = struct.unpack("<BHB", self.take(pos, 4))
            pos += 4 + order
            if pos + n > end:
                self.fail(f"a header message overruns its object header at offset {addr}")
            out.append((kind, self.take(pos, n)))
            pos += n
        return out

    def group(self, addr, depth, path):
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_OBJECTS or addr in path:
            self.fail("its groups nest too deep or link in a cycle")
        messages = self.messages(addr)
        kinds = {k for k, _ in messages}
        if kinds & {0x10, 0x11, 0x0B}:   # continuation, old-style group, filters
            raise _Unsupported
        node = H5Group()
        for kind, body in messages:
            if kind == 0x02 and len(body) >= 18 and not body[1] & 1 and \
                    struct.unpack("<Q", body[2:10])[0] != UNDEF:
                raise _Unsupported       # links kept in a fractal heap (dense storage)
            if kind == 0x0C:
                name, value = self.attribute(body)
                if name is not None:
                    node.attrs[name] = value
        for kind, body in messages:
            if kind != 0x06:
                continue
            name, target = self.link(body)
            if name in node.groups or name in node.datasets:
                self.fail(f"the name {name!r} appears twice in one group")
            sub = self.messages(target)
            if any(k == 0x08 for k, _ in sub):
                node.datasets[name] = self.dataset(sub, name)
            else:
                node.groups[name] = self.group(target, depth + 1, path | {addr})
        return node

    def link(self, body):
        try:
            version, flags = body[0], body[1]
            if version != 1:
                self.fail(f"link message version {version}")
            pos = 2
            if flags & 0x08:
                if body[pos] != 0:
                    raise ValueError(f"{self.what} holds a soft or external link: refused "
                                     f"(a weights file has only plain groups and arrays)")
                pos += 1
            if flags & 0x04:
                pos += 8
            if flags & 0x10:
                pos += 1
            width = 1 << (flags & 3)
            n = int.from_bytes(body[pos:pos + width], "little")
            pos += width
            if pos + n + 8 > len(body):
                self.fail("a link message is cut short")
            name = body[pos:pos + n].decode("utf-8")
            return name, struct.unpack("<Q", body[pos + n:pos + n + 8])[0]
        except (IndexError, UnicodeDecodeError):
            self.fail("a link message is malformed")

    def dataset(self, messages, name):
        found = dict(messages)
        if 0x01 not in found or 0x03 not in found or 0x0B in found or 0x10 in found:
            raise _Unsupported
        shape = self.dataspace(found[0x01])
        dtype = self.datatype(found[0x03])
        if dtype is None:
            raise _Unsupported
        layout = found[0x08]
        if len(layout) < 2 or layout[0] not in (3, 4):
            raise _Unsupported
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if layout[1] == 0:                                   # compact: data in the header
            size = struct.unpack("<H", layout[2:4])[0]
            raw = layout[4:4 + size]
            address = None
        elif layout[1] == 1 and len(layout) >= 18:          # contiguous
            address, size = struct.unpack("<QQ", layout[2:18])
            raw = None
        else:
            raise _Unsupported                               # chunked, virtual
        if size != nbytes:
            self.fail(f"dataset {name!r} declares shape {shape} of {dtype} ({nbytes} "
                      f"bytes) but stores {size} bytes")
        if raw is None:
            if nbytes == 0:
                raw = b""
            elif address == UNDEF:
                raise _Unsupported                           # never written: fill values
            else:
                raw = self.take(address, size)
        return np.frombuffer(raw, dtype).reshape(shape).copy()

    def dataspace(self, body):
        try:
            version, rank, flags = body[0], body[1], body[2]
            if version == 1:
                start = 8
            elif version == 2:
                if body[3] == 0:
                    return ()
                if body[3] == 2:
                    raise _Unsupported                       # null dataspace
                start = 4
            else:
                self.fail(f"dataspace version {version}")
            if start + 8 * rank > len(body):
                self.fail("a dataspace message is cut short")
            del flags
            return tuple(struct.unpack("<Q", body[start + 8 * i:start + 8 * i + 8])[0]
                         for i in range(rank))
        except IndexError:
            self.fail("a dataspace message is malformed")

    @staticmethod
    def datatype(body):
        """The NumPy dtype of a numeric datatype message, or None."""
        if len(body) < 8:
            return None
        cls, bits = body[0] & 0x0F, body[1]
        size = struct.unpack("<I", body[4:8])[0]
        order = ">" if bits & 1 else "<"
        if cls == 0 and size in (1, 2, 4, 8):
            return np.dtype(f"{order}{'i' if bits & 0x08 else 'u'}{size}")
        if cls == 1 and size in (2, 4, 8) and not bits & 0x40:
            sign = {2: 15, 4: 31, 8: 63}[size]
            props = struct.unpack("<HHBBBBI", body[8:20]) if len(body) >= 20 else None
            ieee = {2: (0, 16, 10, 5, 0, 10, 15), 4: (0, 32, 23, 8, 0, 23, 127),
                    8: (0, 64, 52, 11, 0, 52, 1023)}[size]
            if body[2] == sign and props == ieee:
                return np.dtype(f"{order}f{size}")
        return None

    def attribute(self, body):
        """(name, str) of a string attribute; (None, None) for any other kind."""
        try:
            version = body[0]
            if version == 1:
                n_name, n_type, n_space = struct.unpack("<HHH", body[2:8])
                pad = lambda n: (n + 7) & ~7         # noqa: E731 (v1 pads to 8 bytes)
                pos = 8
            elif version in (2, 3):
                n_name, n_type, n_space = struct.unpack("<HHH", body[2:8])
                pad = lambda n: n                    # noqa: E731
                pos = 9 if version == 3 else 8
            else:
                return None, None
            name = body[pos:pos + n_name].split(b"\0", 1)[0].decode("utf-8")
            pos += pad(n_name)
            dtype = body[pos:pos + n_type]
            pos += pad(n_type)
            space = body[pos:pos + n_space]
            pos += pad(n_space)
            if not dtype or dtype[0] & 0x0F != 3 or self.dataspace(space) != ():
                return None, None
            size = struct.unpack("<I", dtype[4:8])[0]
            return name, body[pos:pos + size].split(b"\0", 1)[0].decode("utf-8", "replace")
        except (IndexError, struct.error, UnicodeDecodeError, ValueError):
            return None, None
