# The counter-based stream of dropout masks (SplitMix64): element i of a call keyed
# `key` is kept when the top 53 bits of mix64(key + (i + 1) * GOLDEN) fall below
# `thr`. Shared by the per-op kernels (_dropout.pyx) and the fused step (_nodes.pyx),
# so both draw the very same masks.
from libc.stdint cimport uint64_t

cdef inline uint64_t mix64(uint64_t z) noexcept nogil:
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline bint kept(uint64_t key, uint64_t i, uint64_t thr) noexcept nogil:
    return (mix64(key + (i + 1) * 0x9E3779B97F4A7C15ULL) >> 11) < thr


cdef inline uint64_t call_key(uint64_t seed, uint64_t step) noexcept nogil:
    """The stream key of training call number `step` of a layer seeded `seed`."""
    return mix64(mix64(seed + 0x9E3779B97F4A7C15ULL) ^ (step * 0x9E3779B97F4A7C15ULL + 1))
