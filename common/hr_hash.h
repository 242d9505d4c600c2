/*  hr_hash: FNV-1a, the small non-cryptographic hash the cursor format
    uses for its checksums (docs/protocol.md §6) and, in 64 bits, the
    cluster's rendezvous weight. Header-only.  */
#ifndef HR_HASH_H
#define HR_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HR_FNV1A_SEED 2166136261u

//  Continues an FNV-1a 32-bit hash from state over size bytes.
static inline uint32_t
hr_fnv1a (uint32_t state, const void *data, size_t size)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < size; i++) {
        state ^= p [i];
        state *= 16777619u;
    }
    return state;
}

#define HR_FNV1A64_SEED 0xcbf29ce484222325ull

//  Continues an FNV-1a 64-bit hash from state over size bytes (the cluster's
//  rendezvous weight, docs/cluster.md "Ownership").
static inline uint64_t
hr_fnv1a64 (uint64_t state, const void *data, size_t size)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < size; i++) {
        state ^= p [i];
        state *= 0x100000001b3ull;
    }
    return state;
}

#endif
