/* The router file container: one little-endian file of named sections.
 *
 *   offset 0   magic "TRTROUTE" (8 bytes)
 *          8   u32 format version (TR_FILE_VERSION)
 *         12   u32 section count S
 *         16   u64 file length in bytes (tells a truncated file from a
 *              corrupted section count; trailing bytes are rejected)
 *         24   S entries of { u32 tag (fourcc), u32 flags (0), u64 offset,
 *                              u64 length, u32 crc32, u32 reserved (0) }
 *      then    u32 crc32 of the header and table above
 *      then    section bodies at their offsets (8-byte aligned, zero
 *              padding between them, none after the last); offsets lie
 *              past the table, bodies do not overlap, tags are unique
 *
 * A reader of version N reads every version <= N and rejects a newer one
 * (TR_EVERSION), a wrong magic (TR_EFORMAT), a short file (TR_ETRUNC) or a
 * bad checksum (TR_ECHECKSUM), each with a message naming the file and the
 * section.  Unknown sections are skipped, so optional sections can be added
 * without a version bump.  The file is read by one read() into memory, not
 * mmap'ed (see router_file.c).  Writing goes to "<path>.tmp.<pid>", is fsynced
 * and renamed over path: a reader never sees half a file. */
#ifndef TR_ROUTER_FILE_H
#define TR_ROUTER_FILE_H

#include <stddef.h>
#include <stdint.h>

#define TR_FILE_MAGIC "TRTROUTE"
#define TR_FILE_VERSION 1u

#define TR_FOURCC(a, b, c, d) ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

/* Section tags used by the router. */
#define TR_SEC_CONFIG  TR_FOURCC('C', 'O', 'N', 'F') /* JSON: options, versions, identities */
#define TR_SEC_MODELS  TR_FOURCC('M', 'O', 'D', 'L') /* model names and price stats */
#define TR_SEC_EMBED   TR_FOURCC('E', 'M', 'B', 'D') /* embedder: spm bytes, vocab, idf, projection */
#define TR_SEC_TASKS   TR_FOURCC('T', 'A', 'S', 'K') /* centroids, names, sizes, per-model stats */
#define TR_SEC_CLASSIF TR_FOURCC('C', 'L', 'S', 'F') /* softmax task classifier */
#define TR_SEC_HEADS   TR_FOURCC('H', 'E', 'A', 'D') /* expert heads and gate */
#define TR_SEC_CALIB   TR_FOURCC('C', 'A', 'L', 'B') /* calibration */
#define TR_SEC_COST    TR_FOURCC('C', 'O', 'S', 'T') /* cost model */
#define TR_SEC_SELECT  TR_FOURCC('S', 'E', 'L', 'C') /* budget->lambda table, risk thresholds */

typedef struct tr_file_writer tr_file_writer;

/* Start writing path (through a temporary file, created now: a missing
 * directory fails here with TR_EIO).  *out owned by the caller: finish with
 * tr_fw_commit or tr_fw_abort. */
int tr_fw_open(const char *path, tr_file_writer **out, char *err, size_t errlen);
/* Add a section (data copied; borrowed).  A failure (TR_ENOMEM, TR_EINVAL for
 * a repeated tag) is sticky: commit then fails with it and cleans up. */
int tr_fw_section(tr_file_writer *w, uint32_t tag, const void *data, size_t len);
/* Write, fsync, rename into place; frees w in every case. */
int tr_fw_commit(tr_file_writer *w, char *err, size_t errlen);
/* Drop everything, remove the temporary file; frees w.  NULL is a no-op. */
void tr_fw_abort(tr_file_writer *w);

/* A loaded, validated file: every section's CRC checked at open. */
typedef struct tr_file tr_file;

/* Read and validate path.  *out owned by the caller: tr_file_close. */
int tr_file_open(const char *path, tr_file **out, char *err, size_t errlen);
/* Validate an in-memory image (the fuzz target's entry); data is copied. */
int tr_file_open_mem(const void *data, size_t len, const char *name,
                     tr_file **out, char *err, size_t errlen);
/* Free f and its sections; NULL is a no-op. */
void tr_file_close(tr_file *f);
uint32_t tr_file_version(const tr_file *f);
/* Borrow section 'tag' (valid until tr_file_close): TR_OK or TR_ENOTFOUND. */
int tr_file_section(const tr_file *f, uint32_t tag, const void **data, size_t *len);
size_t tr_file_section_count(const tr_file *f);
/* i-th section's tag and length, for `inspect`. */
void tr_file_section_info(const tr_file *f, size_t i, uint32_t *tag, size_t *len);

#endif
