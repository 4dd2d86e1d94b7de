/* libFuzzer target for the router file loader: any byte string must give
 * TR_OK or an error code with a message, never a crash, a leak or a read
 * outside the image.  Build with `make fuzz`; run e.g.
 *   build-fuzz/fuzz/fuzz_router_file -max_total_time=60 corpus/ */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "router_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tr_file *f = NULL;
    char err[256];
    err[0] = 0;
    int rc = tr_file_open_mem(data, size, "fuzz", &f, err, sizeof err);
    if (rc != 0) {
        /* every failure names the file */
        if (!strstr(err, "fuzz")) __builtin_trap();
        return 0;
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
    return (int)(acc & 0);
}
