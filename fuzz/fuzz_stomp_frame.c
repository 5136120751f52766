/* libFuzzer target: the STOMP 1.2 frame parser (adapters/stomp/stomp_frame.c) and the codec
 * (adapters/stomp/stomp_codec.c), fed what a broker could send.
 *
 * The first input byte sets the size of the reads the rest arrives in (1..256 bytes), as a
 * socket would deliver it: the bytes are appended to a buffer and parsed after each read, the
 * way stomp_conn.c does, with a 64 KiB frame limit. Checked: a parser never consumes more than
 * it was given, and never reports a frame without consuming; every frame decodes (or says why
 * not), and a decoded MESSAGE that is encoded as a SEND, parsed and decoded again gives the
 * same body, key and headers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/stomp/stomp_codec.h"
#include "adapters/stomp/stomp_frame.h"
#include "bridge/envelope.h"

/* A decoded header that still carries the codec's own reserved prefix came from a frame that
 * forged the codec's bookkeeping (x-msgbridge-dup-*, -order...): encoding such an envelope
 * re-interprets it, so the round-trip property only holds without them. */
static bool has_reserved_header(const brg_envelope_t *e)
{
    for (size_t i = 0; i < e->headers.count; i++) {
        const char *n = e->headers.items[i].name;
        if (n && strncmp(n, "x-msgbridge-", 12) == 0) {
            return true;
        }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAME 65536

static void check_round_trip(const brg_envelope_t *e)
{
    brg_stomp_buf_t b = {0};
    brg_stomp_encode_opts_t o = {.destination = "/queue/fuzz", .receipt = "1", .now_ms = 0};
    char err[256];
    if (brg_stomp_encode(&b, e, &o, err, sizeof(err)) != BRG_OK) {
        abort(); /* without a loss callback encoding cannot fail */
    }
    brg_stomp_frame_t f;
    brg_stomp_frame_init(&f);
    size_t used;
    if (brg_stomp_parse(b.p, b.len, SIZE_MAX, &f, &used, err, sizeof(err)) != BRG_STOMP_FRAME ||
        used != b.len) {
        abort(); /* what we encode must parse, whole */
    }
    brg_envelope_t *back = brg_envelope_new();
    if (brg_stomp_decode(&f, back, 0, err, sizeof(err)) != BRG_OK) {
        abort();
    }
    if (back->body_len != e->body_len ||
        (e->body_len && memcmp(back->body, e->body, e->body_len) != 0) ||
        (back->key == NULL) != (e->key == NULL) || back->key_len != e->key_len ||
        (e->key_len && memcmp(back->key, e->key, e->key_len) != 0)) {
        abort();
    }
    /* Headers come back the same, except names the codec skips (frame headers: counted as a
     * loss, which a fuzzed frame cannot produce since decode drops them too). */
    if (!brg_fields_equal(&back->headers, &e->headers)) {
        abort();
    }
    brg_envelope_destroy(back);
    brg_stomp_frame_fini(&f);
    brg_stomp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t chunk = (size_t)data[0] + 1;
    data++;
    size--;
    brg_stomp_buf_t in = {0};
    size_t fed = 0;
    bool dead = false;
    while (fed < size && !dead) {
        size_t n = size - fed < chunk ? size - fed : chunk;
        brg_stomp_buf_append(&in, data + fed, n);
        fed += n;
        for (;;) {
            brg_stomp_frame_t f;
            brg_stomp_frame_init(&f);
            size_t used;
            char err[256];
            brg_stomp_parse_rc_t rc = brg_stomp_parse(in.p, in.len, MAX_FRAME, &f, &used, err,
                                                      sizeof(err));
            if (used > in.len || (rc == BRG_STOMP_FRAME && used == 0) ||
                (rc == BRG_STOMP_NEED_MORE && used != 0)) {
                abort();
            }
            if (rc == BRG_STOMP_BAD) {
                if (!err[0]) {
                    abort(); /* every malformed frame says why */
                }
                brg_stomp_frame_fini(&f);
                dead = true;
                break;
            }
            if (rc == BRG_STOMP_NEED_MORE) {
                brg_stomp_frame_fini(&f);
                break;
            }
            brg_stomp_buf_consume(&in, used);
            if (rc == BRG_STOMP_FRAME) {
                brg_envelope_t *e = brg_envelope_new();
                if (brg_stomp_decode(&f, e, 0, err, sizeof(err)) == BRG_OK &&
                    !has_reserved_header(e)) {
                    check_round_trip(e);
                }
                brg_envelope_destroy(e);
            }
            brg_stomp_frame_fini(&f);
        }
    }
    brg_stomp_buf_free(&in);
    return 0;
}
