#include "CInflate.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<isa-l/igzip_lib.h>)
#include <isa-l/igzip_lib.h>

struct cinflate_library {
    void (*init)(struct inflate_state *);
    void (*reset)(struct inflate_state *);
    int (*inflate)(struct inflate_state *);
};

/// Where the gzip header parser is: ISA-L 2.30 parses a header itself only when it arrives
/// whole — one split inside FEXTRA, FNAME, FCOMMENT or FHCRC loses its place and fails a good
/// member — so a gzip stream's header is read here and ISA-L inflates the body and checks the
/// trailer (ISAL_GZIP_NO_HDR_VER).
enum header_phase { FIXED, EXTRA_LENGTH, EXTRA, NAME, COMMENT, HEADER_CRC, BODY };

struct cinflate_stream {
    const cinflate_library *library;
    int gzip;
    struct inflate_state state;
    enum header_phase phase;
    uint8_t flags;
    uint8_t field[10];     // the fixed part, the extra field's length or the header CRC, as collected
    uint32_t collected;    // bytes of `field` so far
    uint32_t extra_left;   // bytes of the extra field still to skip
    uint32_t header_crc;   // CRC-32 of the header's bytes before its own CRC
    uint64_t taken;        // input bytes consumed since the last reset
};

enum { FHCRC = 0x02, FEXTRA = 0x04, FNAME = 0x08, FCOMMENT = 0x10, RESERVED = 0xe0 };

static uint32_t crc32_bytes(uint32_t crc, const uint8_t *bytes, size_t count) {
    crc = ~crc;
    while (count--) {
        crc ^= *bytes++;
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/// The phase after `phase`, given the header's flags (the phases are in the header's order).
static enum header_phase after(enum header_phase phase, uint8_t flags) {
    if (phase < EXTRA_LENGTH && (flags & FEXTRA)) return EXTRA_LENGTH;
    if (phase < NAME && (flags & FNAME)) return NAME;
    if (phase < COMMENT && (flags & FCOMMENT)) return COMMENT;
    if (phase < HEADER_CRC && (flags & FHCRC)) return HEADER_CRC;
    return BODY;
}

static uint32_t smaller(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t little_endian16(const uint8_t *bytes) { return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8; }

/// Reads header bytes from `input`; returns how many it took (all of them while the header
/// goes on), or a negative code for a header that is not gzip's.
static int64_t read_header(cinflate_stream *stream, const uint8_t *input, uint32_t length) {
    uint32_t used = 0;
    while (stream->phase != BODY && used < length) {
        const uint8_t *at = input + used;
        uint32_t left = length - used;
        uint32_t take;
        int whole;  // this call completes the phase's field
        switch (stream->phase) {
        case EXTRA:
            take = smaller(stream->extra_left, left);
            stream->extra_left -= take;
            whole = stream->extra_left == 0;
            break;
        case NAME:
        case COMMENT: {
            const uint8_t *end = memchr(at, 0, left);
            take = end ? (uint32_t)(end - at) + 1 : left;
            whole = end != NULL;
            break;
        }
        default: {  // FIXED, EXTRA_LENGTH, HEADER_CRC: collected into `field`
            uint32_t want = stream->phase == FIXED ? 10 : 2;
            take = smaller(want - stream->collected, left);
            memcpy(stream->field + stream->collected, at, take);
            stream->collected += take;
            whole = stream->collected == want;
            break;
        }
        }
        if (stream->phase != HEADER_CRC) stream->header_crc = crc32_bytes(stream->header_crc, at, take);
        used += take;
        if (!whole) continue;
        stream->collected = 0;
        switch (stream->phase) {
        case FIXED:
            if (stream->field[0] != 0x1f || stream->field[1] != 0x8b) return ISAL_INVALID_WRAPPER;
            if (stream->field[3] & RESERVED) return CINFLATE_HEADER_FLAGS;
            if (stream->field[2] != 8) return ISAL_UNSUPPORTED_METHOD;
            stream->flags = stream->field[3];
            break;
        case EXTRA_LENGTH:
            stream->extra_left = little_endian16(stream->field);
            if (stream->extra_left > 0) {
                stream->phase = EXTRA;
                continue;
            }
            break;
        case HEADER_CRC:
            if (little_endian16(stream->field) != (stream->header_crc & 0xffff)) return CINFLATE_HEADER_CRC;
            break;
        default:
            break;
        }
        stream->phase = after(stream->phase, stream->flags);
    }
    return used;
}

const cinflate_library *cinflate_open(const char *path, const char **error) {
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        if (error) *error = dlerror();
        return NULL;
    }
    cinflate_library *library = calloc(1, sizeof *library);
    if (library == NULL) {
        if (error) *error = "out of memory";
        return NULL;
    }
    library->init = (void (*)(struct inflate_state *))dlsym(handle, "isal_inflate_init");
    library->reset = (void (*)(struct inflate_state *))dlsym(handle, "isal_inflate_reset");
    library->inflate = (int (*)(struct inflate_state *))dlsym(handle, "isal_inflate");
    if (library->init == NULL || library->reset == NULL || library->inflate == NULL) {
        if (error) *error = "it lacks isal_inflate_init, isal_inflate_reset or isal_inflate";
        free(library);
        return NULL;
    }
    return library;
}

static void start(cinflate_stream *stream) {
    // Raw streams: no header, no trailer, the CRC-32 kept. gzip: the body and the trailer's check.
    stream->state.crc_flag = stream->gzip ? ISAL_GZIP_NO_HDR_VER : ISAL_GZIP_NO_HDR;
    stream->phase = stream->gzip ? FIXED : BODY;
    stream->flags = 0;
    stream->collected = 0;
    stream->extra_left = 0;
    stream->header_crc = 0;
    stream->taken = 0;
}

uint64_t cinflate_stream_length(const cinflate_stream *stream) {
    // A raw stream's end leaves the whole bytes ISA-L read ahead in its bit buffer, consumed.
    uint64_t ahead = stream->state.read_in_length > 0 ? (uint64_t)stream->state.read_in_length / 8 : 0;
    return stream->taken - (ahead < stream->taken ? ahead : stream->taken);
}

cinflate_stream *cinflate_new(const cinflate_library *library, int gzip) {
    cinflate_stream *stream = malloc(sizeof *stream);
    if (stream == NULL) return NULL;
    stream->library = library;
    stream->gzip = gzip;
    library->init(&stream->state);
    start(stream);
    return stream;
}

void cinflate_reset(cinflate_stream *stream) {
    stream->library->reset(&stream->state);
    start(stream);
}

void cinflate_free(cinflate_stream *stream) { free(stream); }

int cinflate_run(cinflate_stream *stream, const uint8_t *input, uint32_t input_length, uint32_t *consumed,
                 uint8_t *output, uint32_t output_length, uint32_t *produced, int *ended, uint32_t *crc) {
    struct inflate_state *state = &stream->state;
    *consumed = 0;
    *produced = 0;
    *ended = 0;
    *crc = state->crc;
    int64_t header = read_header(stream, input, input_length);
    if (header < 0) return (int)header;
    if (stream->phase != BODY) {
        *consumed = (uint32_t)header;
        return 0;
    }
    // ISA-L never writes through next_in; the field is merely not const.
    uint32_t given = input_length - (uint32_t)header;
    state->next_in = (uint8_t *)input + header;
    state->avail_in = given;
    state->next_out = output;
    state->avail_out = output_length;
    int status = stream->library->inflate(state);
    *ended = state->block_state == ISAL_BLOCK_FINISH;
    // At a gzip member's end ISA-L gives back what it read ahead; never count more than this call's.
    *consumed = input_length - smaller(state->avail_in, given);
    *produced = output_length - state->avail_out;
    stream->taken += *consumed;
    *crc = state->crc;
    return status < 0 ? status : 0;
}

#else

const cinflate_library *cinflate_open(const char *path, const char **error) {
    (void)path;
    if (error) *error = "this imagegen was built without ISA-L's header (libisal-dev)";
    return NULL;
}
cinflate_stream *cinflate_new(const cinflate_library *library, int gzip) { (void)library; (void)gzip; return NULL; }
void cinflate_reset(cinflate_stream *stream) { (void)stream; }
void cinflate_free(cinflate_stream *stream) { (void)stream; }
uint64_t cinflate_stream_length(const cinflate_stream *stream) { (void)stream; return 0; }
int cinflate_run(cinflate_stream *stream, const uint8_t *input, uint32_t input_length, uint32_t *consumed,
                 uint8_t *output, uint32_t output_length, uint32_t *produced, int *ended, uint32_t *crc) {
    (void)stream; (void)input; (void)input_length; (void)output; (void)output_length;
    *consumed = 0; *produced = 0; *ended = 0; *crc = 0;
    return -1;
}

#endif
