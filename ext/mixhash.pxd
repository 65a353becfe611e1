# One 64-bit mix of two words (splitmix64-style finaliser), shared by the kernels that hash
# keys (pipeline.pyx's FlowIndex, dkeys.pyx's decision keys); its plain-Python twin is
# dataplane/kernels/pipeline_py.py `mix64`. Inline: no call across modules.
from libc.stdint cimport uint64_t


cdef inline uint64_t mix(uint64_t a, uint64_t b) noexcept nogil:
    cdef uint64_t h = a * <uint64_t>0x9E3779B97F4A7C15ULL
    h ^= h >> 29
    h += b * <uint64_t>0xBF58476D1CE4E5B9ULL
    h ^= h >> 32
    h *= <uint64_t>0x94D049BB133111EBULL
    h ^= h >> 29
    return h
