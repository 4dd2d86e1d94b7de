/* libFuzzer entry point for the server's two small configuration files:
 * the inbound API keys file (serve --api-keys, src/server/api_keys.c) and
 * the cascade file (serve --cascade, src/server/cascade_cfg.c).  The first
 * byte picks the reader, the rest is the file.  Any bytes give a key set
 * whose keys can be found again, or cascade settings within their
 * documented ranges, or a status with a message; never a crash, a leak or
 * an out-of-bounds read.  Both readers take a path, so the bytes go through
 * a file in /dev/shm (or TMPDIR).
 *
 * Build and run: make fuzz; build-fuzz/fuzz/fuzz_config_files -max_total_time=60 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/api_keys.c"
#include "server/cascade_cfg.c"

static char path[256];

static int write_file(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(path, sizeof path, "%s/fuzz_config_files.%ld", dir, (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    return fclose(f) == 0 && w == size ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || write_file(data + 1, size - 1)) return 0;
    char msg[512];
    if (data[0] & 1) {
        tr_cascade_cfg c;
        tr_cascade_cfg_default(&c);
        if (tr_cascade_cfg_load(path, &c, msg, sizeof msg) == 0) {
            if (!(c.tolerance >= 0) || !(c.threshold >= 0 && c.threshold <= 1) || c.max_steps < 1 ||
                c.max_steps > 16 || c.k < 1 || c.k > TR_VERIFY_MAX_K || !memchr(c.verifier, 0, sizeof c.verifier))
                __builtin_trap();
        } else if (!msg[0]) {
            __builtin_trap();
        }
    } else {
        tr_keyset *k = NULL;
        if (tr_keyset_load(path, &k, msg, sizeof msg) == 0) {
            size_t n = tr_keyset_count(k);
            for (size_t i = 0; i < n; i++)
                if (!tr_keyset_label(k, i)) __builtin_trap();
            tr_keyset_free(k);
        } else if (!msg[0]) {
            __builtin_trap();
        }
    }
    unlink(path);
    return 0;
}
