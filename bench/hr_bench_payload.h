/*  hr_bench_payload.h - the generator's event payload

    A JSON object {"hb_seq":S,"hb_ts":T,"pad":"xx.."} padded to a size, with
    the generator's own sequence number and the CLOCK_MONOTONIC publish time
    in ns. Subscribers find the two marker keys in any text that carries the
    payload (nchan's raw data line, Herald's JSON envelope), so no JSON
    parser is needed.
*/
#ifndef HR_BENCH_PAYLOAD_H_INCLUDED
#define HR_BENCH_PAYLOAD_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

//  Returns CLOCK_MONOTONIC in nanoseconds.
uint64_t
    hr_bench_now (void);

//  Writes the JSON payload into buf (NUL-terminated) and returns its length,
//  `size` bytes unless the markers alone are longer; 0 if buf is too small.
size_t
    hr_bench_payload_json (char *buf, size_t buf_size, uint64_t seq, uint64_t ts,
                           size_t size);

//  Packs the same payload as a MessagePack map, whose JSON rendering by
//  Herald is the text hr_bench_payload_json makes.
void
    hr_bench_payload_pack (msgpack_packer *pk, uint64_t seq, uint64_t ts, size_t size);

//  Finds the markers in text (raw or inside a JSON string, escaped).
//  Returns 0 and sets seq and ts when both are there, else -1.
int
    hr_bench_payload_scan (const char *text, size_t len, uint64_t *seq, uint64_t *ts);

#endif
