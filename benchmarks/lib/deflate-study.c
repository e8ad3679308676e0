/* benchmarks/lib/deflate-study.c — compresses one input with imagegen's block scheme under
 * several deflate implementations and levels, single-threaded, and reports each method's
 * output size, CPU time and wall time. Compiled and run by benchmarks/deflate.
 *
 *   cc -O2 -o deflate-study deflate-study.c -lz -lisal -ldeflate
 *   deflate-study [--methods LIST] [--members runs|all] [--no-verify] [--corrupt NAME] FILE
 *
 * The scheme (Sources/Layers/GzipCompressor.swift): the input is cut into fixed 1 MiB
 * blocks; each block is raw-deflated on its own, primed with the previous 32 KiB of input as
 * dictionary, and ended with a sync flush (the last block of a stream with a final block),
 * so that the pieces, concatenated, form one deflate stream in one gzip member.
 *
 * Methods (LIST is comma-separated; default: zlib-1,4,5,6,9, isal-0..3, libdeflate-1,4,6,9,12):
 *   zlib-N        zlib deflateInit2(N, -15, 8, default strategy) per block, deflateSetDictionary,
 *                 Z_SYNC_FLUSH / Z_FINISH: imagegen's scheme exactly at N = 6 (1 <= N <= 9)
 *   isal-N        ISA-L isal_deflate level N (0..3) per block, isal_deflate_set_dict,
 *                 SYNC_FLUSH / end_of_stream: the same stream layout
 *   libdeflate-N  libdeflate_deflate_compress level N (1..12) per block, no dictionary
 *                 (libdeflate 1.14 has none) and a final block each: one gzip member per
 *                 block, so 18 bytes of member header and trailer are counted per block
 *
 * Input: a plain file (a tar) is one stream. A gzip file (an imagegen layer blob) is inflated
 * as it is read, member by member, and each member's content is a stream of its own, cut
 * into blocks from its start, as GzipCompressor cut it. With --members runs (the default)
 * only the members at even positions are compressed: in a layer written by
 * ReusingGzipSink, members alternate between runs that GzipCompressor deflated (tar
 * headers, small files, Debian package content) and reused wheel deflate streams, starting
 * and ending with a run; a blob of one member is one run. --members all takes every member.
 *
 * Output bytes of a method: its deflate payload plus 18 bytes (10 of header, 8 of trailer)
 * per gzip member it needs: one per stream, or one per block for libdeflate. For a gzip
 * input, the blob's own bytes for the same members are reported too, with a check of
 * whether zlib-6 reproduced them: every member's CRC-32 over its compressed bytes (header,
 * deflate payload, trailer) is compared with that of zlib-6's member rebuilt the same way.
 *
 * Times are per method, summed over the blocks: CPU time of this thread
 * (CLOCK_THREAD_CPUTIME_ID) and wall time (CLOCK_MONOTONIC) around the whole per-block call
 * sequence (init, dictionary, compress, end). Methods take turns block by block, so a
 * change of load on the machine falls on all of them alike.
 *
 * Verification (unless --no-verify, untimed): every zlib-N and isal-N stream is inflated by
 * one zlib raw inflate per stream, piece by piece as it is made: each piece must give back
 * exactly its block, the last piece must end the stream and no other may. Every libdeflate
 * block is inflated on its own and must end exactly there. Any difference exits with 3.
 *
 * --corrupt NAME flips one bit in the middle of method NAME's first piece after it is made,
 * so that the verifier must fail (exit 3): benchmarks/deflate runs it as a self-test.
 *
 * Output (stdout), tab-separated:
 *   input  PATH  BYTES_IN  STREAMS  BLOCKS  MEMBERS_SEEN
 *   blob   BYTES  (gzip input only: the blob's bytes of the measured members)
 *   check  zlib-6  MATCHED  STREAMS  (gzip input only: members zlib-6 reproduced exactly)
 *   method NAME  BYTES  CPU_S  WALL_S  VERIFIED(yes|no|skipped)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define BLOCK (1u << 20)
#define DICT (32u << 10)
#define MAXM 32

enum kind { ZLIB, ISAL, LIBDEFLATE };

struct method {
    char name[32];
    enum kind kind;
    int level;
    uint8_t *out;
    size_t cap;
    uint8_t *level_buf; /* ISA-L levels 1-3 */
    uint32_t level_buf_size;
    struct libdeflate_compressor *ld;
    uint64_t bytes;     /* deflate payload plus member overheads */
    double cpu, wall;
    z_stream verify;    /* one raw inflate per stream (zlib, isal) */
    int verify_open;
    uint32_t member_crc; /* zlib-6: CRC-32 of the member being rebuilt */
    uint64_t member_payload;
};

static struct method methods[MAXM];
static int nmethods;
static int verify = 1;
static int corrupt = -1; /* --corrupt NAME: the verifier's self-test */
static uint8_t *block, *dict, *scratch;
static size_t block_len, dict_len;
static uint64_t bytes_in, nblocks, nstreams;
static uint32_t stream_crc; /* CRC-32 of the uncompressed stream (the gzip trailer) */
static uint64_t stream_len;
static int zlib6 = -1;
static uint64_t matched;

static void die(const char *fmt, const char *arg) {
    fprintf(stderr, "deflate-study: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static void fail_verify(const struct method *m, const char *why) {
    fprintf(stderr, "deflate-study: VERIFY FAILED: %s: %s (stream %llu, block %llu)\n", m->name, why,
            (unsigned long long)nstreams, (unsigned long long)nblocks);
    exit(3);
}

static double now(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void add_method(const char *name) {
    struct method *m = &methods[nmethods];
    memset(m, 0, sizeof *m);
    if (nmethods == MAXM) die("too many methods%s", "");
    snprintf(m->name, sizeof m->name, "%s", name);
    const char *dash = strrchr(name, '-');
    if (!dash) die("unknown method '%s'", name);
    char *end;
    m->level = (int)strtol(dash + 1, &end, 10);
    if (*end || end == dash + 1) die("unknown method '%s'", name);
    size_t prefix = (size_t)(dash - name);
    if (prefix == 4 && !strncmp(name, "zlib", 4) && m->level >= 1 && m->level <= 9) {
        m->kind = ZLIB;
        m->cap = compressBound(BLOCK) + 64;
        if (m->level == 6) zlib6 = nmethods;
    } else if (prefix == 4 && !strncmp(name, "isal", 4) && m->level >= 0 && m->level <= 3) {
        static const uint32_t sizes[] = {ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT,
                                         ISAL_DEF_LVL3_DEFAULT};
        m->kind = ISAL;
        /* Room to spare: on incompressible input ISA-L writes more than compressBound before
         * it falls back to stored blocks. */
        m->cap = 2 * (size_t)BLOCK;
        m->level_buf_size = sizes[m->level];
        if (m->level_buf_size) m->level_buf = malloc(m->level_buf_size);
    } else if (prefix == 10 && !strncmp(name, "libdeflate", 10) && m->level >= 1 && m->level <= 12) {
        m->kind = LIBDEFLATE;
        m->ld = libdeflate_alloc_compressor(m->level);
        if (!m->ld) die("libdeflate_alloc_compressor failed for '%s'", name);
        m->cap = libdeflate_deflate_compress_bound(m->ld, BLOCK);
    } else {
        die("unknown method '%s'", name);
    }
    m->out = malloc(m->cap);
    if (!m->out) die("out of memory%s", "");
    nmethods++;
}

/* Compresses the current block with method m; returns the piece's length. */
static size_t compress_block(struct method *m, int last) {
    if (m->kind == ZLIB) {
        z_stream s;
        memset(&s, 0, sizeof s);
        if (deflateInit2(&s, m->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("deflateInit2%s", "");
        if (dict_len && deflateSetDictionary(&s, dict, (uInt)dict_len) != Z_OK) die("deflateSetDictionary%s", "");
        s.next_in = block;
        s.avail_in = (uInt)block_len;
        s.next_out = m->out;
        s.avail_out = (uInt)m->cap;
        int rc = deflate(&s, last ? Z_FINISH : Z_SYNC_FLUSH);
        if (rc != (last ? Z_STREAM_END : Z_OK) || s.avail_in) die("deflate failed (%s)", m->name);
        size_t n = m->cap - s.avail_out;
        deflateEnd(&s);
        return n;
    }
    if (m->kind == ISAL) {
        struct isal_zstream s;
        isal_deflate_init(&s);
        s.level = (uint32_t)m->level;
        s.level_buf = m->level_buf;
        s.level_buf_size = m->level_buf_size;
        s.gzip_flag = IGZIP_DEFLATE;
        if (dict_len && isal_deflate_set_dict(&s, dict, (uint32_t)dict_len) != COMP_OK) die("isal_deflate_set_dict (%s)", m->name);
        s.next_in = block;
        s.avail_in = (uint32_t)block_len;
        s.next_out = m->out;
        s.avail_out = (uint32_t)m->cap;
        s.end_of_stream = last ? 1 : 0;
        s.flush = last ? NO_FLUSH : SYNC_FLUSH;
        for (int i = 0;; i++) {
            if (isal_deflate(&s) != COMP_OK) die("isal_deflate failed (%s)", m->name);
            /* Done: all input taken and, after a sync flush, a new block header due (the
             * "TMP" twin of that state is what level 0 reports); after the last, the end. */
            enum isal_zstate_state st = s.internal_state.state;
            if (s.avail_in == 0 && (last ? st == ZSTATE_END : st == ZSTATE_NEW_HDR || st == ZSTATE_TMP_NEW_HDR)) break;
            if (s.avail_out == 0 || i > 1000) {
                fprintf(stderr, "deflate-study: isal_deflate state %d, avail_in %u\n", (int)st, s.avail_in);
                die("isal_deflate did not finish (%s)", m->name);
            }
        }
        return m->cap - s.avail_out;
    }
    size_t n = libdeflate_deflate_compress(m->ld, block, block_len, m->out, m->cap);
    if (!n) die("libdeflate_deflate_compress failed (%s)", m->name);
    return n;
}

static void check_piece(struct method *m, size_t n, int last) {
    if (m->kind == LIBDEFLATE) {
        z_stream s;
        memset(&s, 0, sizeof s);
        if (inflateInit2(&s, -15) != Z_OK) die("inflateInit2%s", "");
        s.next_in = m->out;
        s.avail_in = (uInt)n;
        s.next_out = scratch;
        s.avail_out = BLOCK + 1;
        int rc = inflate(&s, Z_FINISH);
        size_t got = BLOCK + 1 - s.avail_out;
        inflateEnd(&s);
        if (rc != Z_STREAM_END || s.avail_in) fail_verify(m, "the block does not inflate to one complete stream");
        if (got != block_len || memcmp(scratch, block, got)) fail_verify(m, "inflated bytes differ from the input");
        return;
    }
    z_stream *s = &m->verify;
    if (!m->verify_open) {
        memset(s, 0, sizeof *s);
        if (inflateInit2(s, -15) != Z_OK) die("inflateInit2%s", "");
        m->verify_open = 1;
    }
    s->next_in = m->out;
    s->avail_in = (uInt)n;
    s->next_out = scratch;
    s->avail_out = BLOCK + 1;
    int rc = inflate(s, Z_SYNC_FLUSH);
    size_t got = BLOCK + 1 - s->avail_out;
    if (last ? rc != Z_STREAM_END : rc != Z_OK) fail_verify(m, last ? "the stream does not end with the last block" : "the stream ends or fails early");
    if (s->avail_in) fail_verify(m, "the piece has bytes past its block");
    if (got != block_len || memcmp(scratch, block, got)) fail_verify(m, "inflated bytes differ from the input");
    if (last) {
        inflateEnd(s);
        m->verify_open = 0;
    }
}

static void process_block(int last) {
    for (int i = 0; i < nmethods; i++) {
        struct method *m = &methods[i];
        double c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
        size_t n = compress_block(m, last);
        m->cpu += now(CLOCK_THREAD_CPUTIME_ID) - c0;
        m->wall += now(CLOCK_MONOTONIC) - w0;
        m->bytes += n + (m->kind == LIBDEFLATE ? 18 : 0);
        if (i == zlib6) {
            m->member_crc = crc32(m->member_crc, m->out, (uInt)n);
            m->member_payload += n;
        }
        if (i == corrupt && nblocks == 0) m->out[n / 2] ^= 0x20;
        if (verify) check_piece(m, n, last);
    }
    stream_crc = crc32(stream_crc, block, (uInt)block_len);
    stream_len += block_len;
    bytes_in += block_len;
    nblocks++;
    /* The next block's dictionary: the last 32 KiB of this one (always a full block). */
    dict_len = block_len < DICT ? block_len : DICT;
    memcpy(dict, block + block_len - dict_len, dict_len);
    block_len = 0;
}

static const uint8_t gzip_header[10] = {0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0xFF};

static void begin_stream(void) {
    block_len = 0;
    dict_len = 0;
    stream_crc = crc32(0, NULL, 0);
    stream_len = 0;
    if (zlib6 >= 0) {
        methods[zlib6].member_crc = crc32(0, gzip_header, sizeof gzip_header);
        methods[zlib6].member_payload = 0;
    }
}

/* Appends bytes to the stream; a full block is compressed once more bytes follow it. */
static void feed(const uint8_t *p, size_t n) {
    while (n) {
        if (block_len == BLOCK) process_block(0);
        size_t take = BLOCK - block_len < n ? BLOCK - block_len : n;
        memcpy(block + block_len, p, take);
        block_len += take;
        p += take;
        n -= take;
    }
}

/* Ends a stream; returns the CRC-32 of zlib-6's member rebuilt (header, payload, trailer). */
static uint32_t end_stream(void) {
    if (block_len || stream_len == 0) process_block(1);
    for (int i = 0; i < nmethods; i++)
        if (methods[i].kind != LIBDEFLATE) methods[i].bytes += 18;
    nstreams++;
    if (zlib6 < 0) return 0;
    uint8_t trailer[8];
    for (int i = 0; i < 4; i++) {
        trailer[i] = (uint8_t)(stream_crc >> (8 * i));
        trailer[4 + i] = (uint8_t)(stream_len >> (8 * i));
    }
    return (uint32_t)crc32(methods[zlib6].member_crc, trailer, 8);
}

int main(int argc, char **argv) {
    const char *list = "zlib-1,zlib-4,zlib-5,zlib-6,zlib-9,isal-0,isal-1,isal-2,isal-3,"
                       "libdeflate-1,libdeflate-4,libdeflate-6,libdeflate-9,libdeflate-12";
    const char *path = NULL;
    int all_members = 0;
    const char *corrupt_name = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--methods") && i + 1 < argc) list = argv[++i];
        else if (!strcmp(argv[i], "--members") && i + 1 < argc) {
            i++;
            if (!strcmp(argv[i], "all")) all_members = 1;
            else if (strcmp(argv[i], "runs")) die("--members: expected runs or all, not '%s'", argv[i]);
        } else if (!strcmp(argv[i], "--no-verify")) verify = 0;
        else if (!strcmp(argv[i], "--corrupt") && i + 1 < argc) corrupt_name = argv[++i];
        else if (argv[i][0] == '-') die("unknown option '%s'", argv[i]);
        else path = argv[i];
    }
    if (!path) die("usage: deflate-study [--methods LIST] [--members runs|all] [--no-verify] [--corrupt NAME] FILE%s", "");
    char *copy = strdup(list);
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        if (corrupt_name && !strcmp(tok, corrupt_name)) corrupt = nmethods;
        add_method(tok);
    }
    if (corrupt_name && corrupt < 0) die("--corrupt: '%s' is not among the methods", corrupt_name);
    block = malloc(BLOCK);
    dict = malloc(DICT);
    scratch = malloc(BLOCK + 1);
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open '%s'", path);
    const size_t chunk = 1u << 20;
    uint8_t *in = malloc(chunk), *out = malloc(chunk);
    size_t n = fread(in, 1, chunk, f);
    int is_gzip = n >= 2 && in[0] == 0x1F && in[1] == 0x8B;
    uint64_t members_seen = 0, blob_bytes = 0;
    if (!is_gzip) {
        begin_stream();
        while (n) {
            feed(in, n);
            n = fread(in, 1, chunk, f);
        }
        if (ferror(f)) die("read error on '%s'", path);
        end_stream();
    } else {
        /* Member by member: inflate (gzip wrapper), feeding the measured members' content. */
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 16 + 15) != Z_OK) die("inflateInit2%s", "");
        uint32_t member_crc = crc32(0, NULL, 0); /* over the member's compressed bytes */
        int measured = 1;
        begin_stream();
        z.next_in = in;
        z.avail_in = (uInt)n;
        for (;;) {
            if (z.avail_in == 0) {
                n = fread(in, 1, chunk, f);
                if (n == 0) break;
                z.next_in = in;
                z.avail_in = (uInt)n;
            }
            const uint8_t *before = z.next_in;
            z.next_out = out;
            z.avail_out = (uInt)chunk;
            int rc = inflate(&z, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) die("corrupt gzip input '%s'", path);
            if (measured) {
                member_crc = crc32(member_crc, before, (uInt)(z.next_in - before));
                feed(out, chunk - z.avail_out);
            }
            if (rc == Z_STREAM_END) {
                if (measured) {
                    uint32_t rebuilt = end_stream();
                    blob_bytes += z.total_in;
                    if (zlib6 >= 0 && rebuilt == member_crc && methods[zlib6].member_payload + 18 == z.total_in) matched++;
                }
                members_seen++;
                measured = all_members || members_seen % 2 == 0;
                inflateReset(&z);
                member_crc = crc32(0, NULL, 0);
                if (measured) begin_stream();
            } else if (rc == Z_BUF_ERROR && z.avail_in) {
                die("inflate made no progress on '%s'", path);
            }
        }
        if (ferror(f)) die("read error on '%s'", path);
        if (z.total_in != 0) die("'%s' ends inside a gzip member", path);
        inflateEnd(&z);
        if (members_seen % 2 == 0 && !all_members && members_seen > 1)
            fprintf(stderr, "deflate-study: warning: %llu members, an even count: not the run/reused alternation\n",
                    (unsigned long long)members_seen);
    }
    fclose(f);
    printf("input\t%s\t%llu\t%llu\t%llu\t%llu\n", path, (unsigned long long)bytes_in, (unsigned long long)nstreams,
           (unsigned long long)nblocks, (unsigned long long)members_seen);
    if (is_gzip) {
        printf("blob\t%llu\n", (unsigned long long)blob_bytes);
        if (zlib6 >= 0) printf("check\tzlib-6\t%llu\t%llu\n", (unsigned long long)matched, (unsigned long long)nstreams);
    }
    for (int i = 0; i < nmethods; i++)
        printf("method\t%s\t%llu\t%.3f\t%.3f\t%s\n", methods[i].name, (unsigned long long)methods[i].bytes, methods[i].cpu,
               methods[i].wall, verify ? "yes" : "skipped");
    return 0;
}
