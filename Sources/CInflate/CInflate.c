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

struct cinflate_stream {
    const cinflate_library *library;
    uint32_t flag;
    struct inflate_state state;
};

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
    stream->state.crc_flag = stream->flag;
}

cinflate_stream *cinflate_new(const cinflate_library *library, int gzip) {
    cinflate_stream *stream = malloc(sizeof *stream);
    if (stream == NULL) return NULL;
    stream->library = library;
    stream->flag = gzip ? ISAL_GZIP : ISAL_GZIP_NO_HDR;
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
    // ISA-L never writes through next_in; the field is merely not const.
    state->next_in = (uint8_t *)input;
    state->avail_in = input_length;
    state->next_out = output;
    state->avail_out = output_length;
    int status = stream->library->inflate(state);
    *consumed = input_length - state->avail_in;
    *produced = output_length - state->avail_out;
    *ended = state->block_state == ISAL_BLOCK_FINISH;
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
int cinflate_run(cinflate_stream *stream, const uint8_t *input, uint32_t input_length, uint32_t *consumed,
                 uint8_t *output, uint32_t output_length, uint32_t *produced, int *ended, uint32_t *crc) {
    (void)stream; (void)input; (void)input_length; (void)output; (void)output_length;
    *consumed = 0; *produced = 0; *ended = 0; *crc = 0;
    return -1;
}

#endif
