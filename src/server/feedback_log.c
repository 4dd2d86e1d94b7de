/* Append-only, fsynced, size-rotated JSONL log of client feedback (see
 * feedback_log.h for the file layout and the guarantees). */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/feedback_log.h"
#include "base/util.h"


struct tr_feedback_log {
    pthread_mutex_t lock;
    char *dir, *path, *base;
    int sync_each;          /* fsync every line (feedback) or only at rotation and close (decisions) */
    int fd;
    size_t size, max_bytes;
    unsigned rotations;
};

/* Largest N among DIR/feedback.jsonl.N, so a restart never overwrites one. */
static unsigned highest_rotation(const char *dir, const char *base)
{
    unsigned hi = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    size_t bl = strlen(base);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, base, bl) || e->d_name[bl] != '.') continue;
        char *end;
        unsigned long n = strtoul(e->d_name + bl + 1, &end, 10);
        if (*end == 0 && n > hi && n < 1000000000UL) hi = (unsigned)n;
    }
    closedir(d);
    return hi;
}

static int open_current(tr_feedback_log *log, char *err, size_t errlen)
{
    log->fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log->fd < 0)
        return tr_errorf(err, errlen, TR_EIO, "%s: cannot open: %s", log->path, strerror(errno));
    struct stat st;
    if (fstat(log->fd, &st))
        return tr_errorf(err, errlen, TR_EIO, "%s: cannot stat: %s", log->path, strerror(errno));
    log->size = (size_t)st.st_size;
    return TR_OK;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) { (void)fsync(fd); close(fd); }
}

int tr_feedback_log_open(const char *dir, size_t max_bytes, tr_feedback_log **out,
                         char *err, size_t errlen)
{
    return tr_jsonl_log_open(dir, "feedback.jsonl", max_bytes, 1, out, err, errlen);
}

int tr_jsonl_log_open(const char *dir, const char *base, size_t max_bytes, int sync_each,
                      tr_feedback_log **out, char *err, size_t errlen)
{
    int rc = TR_ENOMEM;
    tr_feedback_log *log = tr_calloc(1, sizeof *log);
    if (!log) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    log->fd = -1;
    if (pthread_mutex_init(&log->lock, NULL)) { tr_free(log); return tr_errorf(err, errlen, TR_ENOMEM, "mutex"); }
    log->max_bytes = max_bytes;
    log->sync_each = sync_each;
    size_t n = strlen(dir) + strlen(base) + 2;
    log->dir = tr_strdup(dir);
    log->base = tr_strdup(base);
    log->path = tr_malloc(n);
    if (!log->dir || !log->base || !log->path) { tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
    snprintf(log->path, n, "%s/%s", dir, base);
    if (mkdir(dir, 0755) && errno != EEXIST) {
        rc = tr_errorf(err, errlen, TR_EIO, "%s: cannot create the feedback directory: %s", dir, strerror(errno));
        goto fail;
    }
    log->rotations = highest_rotation(dir, base);
    if ((rc = open_current(log, err, errlen))) goto fail;
    *out = log;
    return TR_OK;
fail:
    tr_feedback_log_close(log);
    return rc;
}

void tr_feedback_log_close(tr_feedback_log *log)
{
    if (!log) return;
    if (log->fd >= 0) {
        if (!log->sync_each) (void)fsync(log->fd);
        close(log->fd);
    }
    pthread_mutex_destroy(&log->lock);
    tr_free(log->dir);
    tr_free(log->base);
    tr_free(log->path);
    tr_free(log);
}

/* Caller holds the lock.  The current file becomes feedback.jsonl.N+1. */
static int rotate(tr_feedback_log *log, char *err, size_t errlen)
{
    size_t n = strlen(log->path) + 16;
    char *to = tr_malloc(n);
    if (!to) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    snprintf(to, n, "%s.%u", log->path, log->rotations + 1);
    int rc = TR_OK;
    if (rename(log->path, to)) {
        rc = tr_errorf(err, errlen, TR_EIO, "%s: cannot rotate to %s: %s", log->path, to, strerror(errno));
        tr_free(to);
        return rc;
    }
    tr_free(to);
    log->rotations++;
    if (!log->sync_each) (void)fsync(log->fd);
    close(log->fd);
    log->fd = -1;
    fsync_dir(log->dir);
    return open_current(log, err, errlen);
}

static char *format_line(const char *request_id, const char *model, double score, size_t *len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char iso[40], ms[8];
    strftime(iso, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ms, sizeof ms, ".%03dZ", (int)(ts.tv_nsec / 1000000L) % 1000);
    strcat(iso, ms);
    char *line = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "ts", iso) ||
        !cJSON_AddNumberToObject(o, "unix_ms", (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000L)) ||
        !cJSON_AddStringToObject(o, "request_id", request_id) ||
        !cJSON_AddStringToObject(o, "model", model) || !cJSON_AddNumberToObject(o, "score", score))
        goto done;
    char *s = cJSON_PrintUnformatted(o);
    if (!s) goto done;
    size_t n = strlen(s);
    line = tr_malloc(n + 2);
    if (line) {
        memcpy(line, s, n);
        line[n] = '\n';
        line[n + 1] = 0;
        *len = n + 1;
    }
    cJSON_free(s);
done:
    cJSON_Delete(o);
    return line;
}

int tr_feedback_log_append(tr_feedback_log *log, const char *request_id, const char *model,
                           double score, char *err, size_t errlen)
{
    size_t len = 0;
    char *line = format_line(request_id, model, score, &len);
    if (!line) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    int rc = tr_jsonl_log_append_line(log, line, len, err, errlen);
    tr_free(line);
    return rc;
}

int tr_jsonl_log_append_line(tr_feedback_log *log, const char *line, size_t len, char *err, size_t errlen)
{
    int rc = TR_OK;
    pthread_mutex_lock(&log->lock);
    if (log->max_bytes && log->size > 0 && log->size + len > log->max_bytes)
        if ((rc = rotate(log, err, errlen))) goto done;
    if (log->fd < 0 && (rc = open_current(log, err, errlen))) goto done;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(log->fd, line + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = tr_errorf(err, errlen, TR_EIO, "%s: write failed: %s", log->path, strerror(errno));
            goto done;
        }
        off += (size_t)w;
    }
    log->size += len;
    if (log->sync_each && fsync(log->fd))
        rc = tr_errorf(err, errlen, TR_EIO, "%s: fsync failed: %s", log->path, strerror(errno));
done:
    pthread_mutex_unlock(&log->lock);
    return rc;
}

unsigned tr_feedback_log_rotations(tr_feedback_log *log)
{
    pthread_mutex_lock(&log->lock);
    unsigned n = log->rotations;
    pthread_mutex_unlock(&log->lock);
    return n;
}
