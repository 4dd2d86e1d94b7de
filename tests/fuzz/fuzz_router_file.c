/* libFuzzer target for the router file loader: any byte string must give
 * TR_OK or an error code with a message, never a crash, a leak or a read
 * outside the image.  Build with `make fuzz`; run e.g.
 *   build-fuzz/fuzz/fuzz_router_file -max_total_time=60 corpus/ */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "router/router_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void open_one(const uint8_t *data, size_t size)
{
    tr_file *f = NULL;
    char err[256];
    err[0] = 0;
    int rc = tr_file_open_mem(data, size, "fuzz", &f, err, sizeof err);
    if (rc != 0) {
        /* every failure names the file and leaves no handle */
        if (!strstr(err, "fuzz") || f) __builtin_trap();
        return;
    }
    /* touch every accepted section's bytes, so ASan checks their bounds */
    uint32_t acc = 0;
    for (size_t i = 0; i < tr_file_section_count(f); i++) {
        uint32_t tag;
        size_t len;
        const void *p;
        tr_file_section_info(f, i, &tag, &len);
        if (tr_file_section(f, tag, &p, &len) != 0) __builtin_trap();
        acc ^= tr_crc32(0, p, len);
    }
    tr_file_close(f);
    (void)acc;
}

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    open_one(data, size);
    /* The CRCs stop almost every mutation at the door.  Open a second copy
     * whose file length and CRCs are made right, so the table, bounds,
     * overlap and padding checks are fuzzed too. */
    if (size < 28 || size > (1u << 20)) return 0;
    uint32_t count = rd32(data + 12);
    if (count > (size - 28) / 32) return 0;
    uint8_t *c = malloc(size);
    if (!c) return 0;
    memcpy(c, data, size);
    for (int i = 0; i < 8; i++) c[16 + i] = (uint8_t)((uint64_t)size >> 8 * i);
    size_t tend = 24 + 32 * (size_t)count;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *e = c + 24 + 32 * (size_t)i;
        uint64_t off = rd64(e + 8), len = rd64(e + 16);
        if (off <= size && len <= size - off) wr32(e + 24, tr_crc32(0, c + off, (size_t)len));
    }
    wr32(c + tend, tr_crc32(0, c, tend));
    open_one(c, size);
    free(c);
    return 0;
}
