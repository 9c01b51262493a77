"""A small HDF5 writer in pure Python and NumPy: what a `.keras` file's
`model.weights.h5` needs, so that saving never needs h5py.

It writes the subset of HDF5 that libhdf5 has read since 1.8: a version-2 superblock,
version-2 object headers, groups whose links live in the header ("compact" storage),
datasets stored contiguously (little-endian integers and IEEE floats, any rank,
scalars included) and fixed-length string attributes. That is all Keras' weights
files use (`layers/dense/vars/0`, the attribute `name`), and h5py or any HDF5 tool
reads the result. `cydl.saving._h5read` reads it back without h5py.

The layout follows the HDF5 File Format Specification, version 3.0: each object
header is checksummed with Bob Jenkins' lookup3, as the format requires.
"""
import struct

import numpy as np

UNDEF = 0xFFFFFFFFFFFFFFFF        # "undefined address"
SIGNATURE = b"\x89HDF\r\n\x1a\n"

_MASK = 0xFFFFFFFF


def _rot(x, k):
    return ((x << k) | (x >> (32 - k))) & _MASK


def lookup3(data, initval=0):
    """Bob Jenkins' hashlittle (lookup3.c), byte by byte: HDF5's metadata checksum."""
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & _MASK
    i = 0
    while length > 12:
        a = (a + int.from_bytes(data[i:i + 4], "little")) & _MASK
        b = (b + int.from_bytes(data[i + 4:i + 8], "little")) & _MASK
        c = (c + int.from_bytes(data[i + 8:i + 12], "little")) & _MASK
        a = (a - c) & _MASK; a ^= _rot(c, 4); c = (c + b) & _MASK      # noqa: E702
        b = (b - a) & _MASK; b ^= _rot(a, 6); a = (a + c) & _MASK      # noqa: E702
        c = (c - b) & _MASK; c ^= _rot(b, 8); b = (b + a) & _MASK      # noqa: E702
        a = (a - c) & _MASK; a ^= _rot(c, 16); c = (c + b) & _MASK     # noqa: E702
        b = (b - a) & _MASK; b ^= _rot(a, 19); a = (a + c) & _MASK     # noqa: E702
        c = (c - b) & _MASK; c ^= _rot(b, 4); b = (b + a) & _MASK      # noqa: E702
        i += 12
        length -= 12
    if length == 0:
        return c
    tail = bytes(data[i:i + length]) + bytes(12 - length)    # missing bytes add nothing
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK
    c = (c + int.from_bytes(tail[8:12], "little")) & _MASK
    c ^= b; c = (c - _rot(b, 14)) & _MASK      # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & _MASK      # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & _MASK      # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & _MASK      # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & _MASK       # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & _MASK      # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & _MASK      # noqa: E702
    return c


class Group:
    """An HDF5 group to write: `children` maps names to Groups or arrays, `attrs`
    maps names to strings."""

    def __init__(self, attrs=None):
        self.children = {}
        self.attrs = dict(attrs or {})

    def group(self, path):
        """The subgroup at a "/"-separated path, made on the way."""
        node = self
        for part in path.split("/"):
            if not part:
                continue
            nxt = node.children.get(part)
            if nxt is None:
                nxt = node.children[part] = Group()
            if not isinstance(nxt, Group):
                raise ValueError(f"{path!r}: {part!r} is a dataset, not a group")
            node = nxt
        return node


# ---------------------------------------------------------------- messages
def _datatype(dtype):
    """The datatype message body for a NumPy dtype (little-endian ints, floats)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize in (2, 4, 8):
        sign, exp_loc, exp_size, mant_size, bias = {
            2: (15, 10, 5, 10, 15), 4: (31, 23, 8, 23, 127), 8: (63, 52, 11, 52, 1023)
        }[dtype.itemsize]
        # class 1 (floating point), version 1; mantissa normalization 2: implied MSB
        head = bytes([0x11, 0x20, sign, 0]) + struct.pack("<I", dtype.itemsize)
        return head + struct.pack("<HHBBBBI", 0, 8 * dtype.itemsize, exp_loc, exp_size, 0,
                                  mant_size, bias)
    if dtype.kind in "iu" and dtype.itemsize in (1, 2, 4, 8):
        flags = 0x08 if dtype.kind == "i" else 0           # bit 3: signed
        head = bytes([0x10, flags, 0, 0]) + struct.pack("<I", dtype.itemsize)
        return head + struct.pack("<HH", 0, 8 * dtype.itemsize)
    if dtype.kind == "b":        # as HDF5 tools see NumPy booleans: 8-bit enums are
        return _datatype(np.uint8)   # h5py's; a plain uint8 reads back as 0 and 1
    raise TypeError(f"Cannot write arrays of dtype {dtype} to HDF5")


def _string_type(n, utf8):
    # class 3 (string), version 1; padding 0 (null-terminated); charset ascii/utf-8
    return bytes([0x13, 0x10 if utf8 else 0x00, 0, 0]) + struct.pack("<I", n)


def _dataspace(shape):
    if shape == ():
        return bytes([2, 0, 0, 0])                       # version 2, scalar
    return bytes([2, len(shape), 0, 1]) + b"".join(struct.pack("<Q", int(n)) for n in shape)


def _attribute(name, value):
    name_b = name.encode("utf-8") + b"\0"
    data = value.encode("utf-8")
    utf8 = not value.isascii()
    dtype = _string_type(len(data) + 1, utf8)
    space = _dataspace(())
    head = struct.pack("<BBHHHB", 3, 0, len(name_b), len(dtype), len(space),
                       0 if name.isascii() else 1)
    return head + name_b + dtype + space + data + b"\0"


def _link(name, address):
    name_b = name.encode("utf-8")
    if len(name_b) > 0xFFFF:
        raise ValueError(f"HDF5 link name too long: {name[:40]!r}...")
    size_code, size_fmt = (0, "<B") if len(name_b) < 256 else (1, "<H")
    flags = size_code | (0 if name.isascii() else 0x10)
    body = bytes([1, flags])                             # version 1
    if not name.isascii():
        body += b"\x01"                                  # link name charset: utf-8
    return body + struct.pack(size_fmt, len(name_b)) + name_b + struct.pack("<Q", address)


def _object_header(messages):
    """A version-2 object header holding (type, body) messages, checksummed."""
    chunk = b"".join(struct.pack("<BHB", kind, len(body), 0) + body
                     for kind, body in messages)
    # flags 2: the chunk size is a 4-byte field; no times, no attribute phase values
    head = b"OHDR" + bytes([2, 2]) + struct.pack("<I", len(chunk)) + chunk
    return head + struct.pack("<I", lookup3(head))


# ---------------------------------------------------------------- the file
def write(root):
    """The bytes of an HDF5 file holding the Group `root`."""
    out = bytearray(48)                  # the superblock, written last

    def put(node):
        if isinstance(node, Group):
            links = [(name, put(child)) for name, child in sorted(node.children.items())]
            n = len(links)
            messages = [
                # link info, version 0: no creation order, no dense storage
                (0x02, bytes([0, 0]) + struct.pack("<QQ", UNDEF, UNDEF)),
                # group info, version 0, with phase-change values that keep every link
                # in the header however many there are
                (0x0A, bytes([0, 1]) + struct.pack("<HH", max(8, min(n, 0xFFFF)), 6)),
            ]
            messages += [(0x06, _link(name, addr)) for name, addr in links]
            messages += [(0x0C, _attribute(k, str(v))) for k, v in sorted(node.attrs.items())]
        else:
            a = np.array(node, order="C")       # (ascontiguousarray makes scalars 1-D)
            if a.dtype.kind == "b":
                a = a.astype(np.uint8)
            a = a.astype(a.dtype.newbyteorder("<"), copy=False)
            data = a.tobytes()
            address = len(out) if data else UNDEF
            out.extend(data)
            messages = [
                (0x01, _dataspace(a.shape)),
                (0x03, _datatype(a.dtype)),
                (0x05, bytes([3, 0x0A])),    # fill value v3: late allocation, write if set
                (0x08, bytes([3, 1]) + struct.pack("<QQ", address, len(data))),  # contiguous
            ]
        address = len(out)
        out.extend(_object_header(messages))
        return address

    root_address = put(root)
    sb = SIGNATURE + bytes([2, 8, 8, 0]) + struct.pack("<QQQQ", 0, UNDEF, len(out),
                                                       root_address)
    out[0:48] = sb + struct.pack("<I", lookup3(sb))
    return bytes(out)
