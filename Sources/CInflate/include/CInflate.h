// Inflate through Intel's ISA-L (igzip), loaded at run time with dlopen: a host without
// libisal.so.2 still runs imagegen, which then inflates with zlib (see Layers/Inflater.swift).
// Decompressed bytes never depend on the library, so neither does any digest.
#ifndef CINFLATE_H
#define CINFLATE_H
#include <stdint.h>

/// ISA-L's functions, once loaded.
typedef struct cinflate_library cinflate_library;
/// One inflate stream's state (ISA-L's `struct inflate_state`, about 40 KiB).
typedef struct cinflate_stream cinflate_stream;

/// Loads `path` (a file name such as "libisal.so.2", or a path) and finds the three functions.
/// Returns NULL when it cannot; `error` (may be NULL) then gets a static or thread-local text
/// saying why. A loaded library is never unloaded. NULL as well when this build of imagegen
/// was compiled without ISA-L's header.
const cinflate_library *cinflate_open(const char *path, const char **error);

/// A new stream: `gzip` 0 for a raw deflate stream (RFC 1951; the CRC-32 of the output is kept),
/// 1 for gzip members (RFC 1952; the header read here, in pieces of any size, its CRC-16 checked
/// when it has one; the trailer's CRC-32 and size checked by ISA-L). NULL when out of memory.
cinflate_stream *cinflate_new(const cinflate_library *library, int gzip);
/// Starts the stream over (the next gzip member, or a new raw stream).
void cinflate_reset(cinflate_stream *stream);
void cinflate_free(cinflate_stream *stream);
/// The input bytes that made up the stream (or the gzip member) since the last reset, once it
/// has ended: exact, where the `consumed` counts of a raw stream's last calls may include up to
/// 7 bytes after its end that ISA-L read ahead into its bit buffer.
uint64_t cinflate_stream_length(const cinflate_stream *stream);

/// cinflate_run's own errors, beside ISA-L's (-1 to -6): a gzip header whose CRC-16 does not
/// match, and one with reserved flags set.
#define CINFLATE_HEADER_CRC (-100)
#define CINFLATE_HEADER_FLAGS (-101)

/// Inflates from `input` into `output`. Sets how many bytes it consumed and produced, whether
/// the stream (the raw stream, or the gzip member with its trailer) has ended, and the CRC-32
/// of everything produced since the last reset. Returns 0, or a negative error code (ISA-L's or
/// the two above).
int cinflate_run(cinflate_stream *stream, const uint8_t *input, uint32_t input_length, uint32_t *consumed,
                 uint8_t *output, uint32_t output_length, uint32_t *produced, int *ended, uint32_t *crc);

#endif
