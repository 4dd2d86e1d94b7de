// hnswlib (C++, header-only) behind a C interface.  Every entry point
// catches all exceptions: none may cross into C.  hnswlib's parallel insert
// races on the graph and breaks determinism, so we insert on one thread in
// index order; its levels come from std::default_random_engine seeded by us.
#include "cluster/hnsw_wrap.h"

// hnswlib 0.6.2's SSE prefetches read one link past the end of a full
// upper-level link list (*(datal + j + 1) in searchBaseLayer): harmless on
// hardware, but AddressSanitizer aborts on it.  Sanitizer builds use the
// plain (unprefetched, unvectorised) code path.
#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>

#include <cstdio>
#include <exception>
#include <new>
#include <vector>

#include "taskroute.h"

struct tr_hnsw {
    hnswlib::InnerProductSpace space;
    hnswlib::HierarchicalNSW<float> index;
    tr_hnsw(size_t d, size_t n, size_t m, size_t efc, uint64_t seed)
        : space(d), index(&space, n, m, efc, (size_t)seed) {}
};

static int fail(char *err, size_t errlen, int code, const char *what, const char *msg)
{
    if (err && errlen) std::snprintf(err, errlen, "hnsw %s: %s", what, msg);
    return code;
}

// Run f (which returns a status) and turn any exception into one, with
// "hnsw WHAT: ..." in err: the one place exceptions stop.
template <typename F>
static int guarded(char *err, size_t errlen, const char *what, F f)
{
    try {
        return f();
    } catch (const std::bad_alloc &) {
        return fail(err, errlen, TR_ENOMEM, what, "out of memory");
    } catch (const std::exception &e) {
        return fail(err, errlen, TR_EDEP, what, e.what());
    } catch (...) {
        return fail(err, errlen, TR_EDEP, what, "unknown exception");
    }
}

extern "C" int tr_hnsw_new(size_t d, size_t n, size_t m, size_t ef_construction,
                           uint64_t seed, tr_hnsw **out, char *err, size_t errlen)
{
    *out = nullptr;
    return guarded(err, errlen, "new", [&] {
        *out = new tr_hnsw(d, n, m, ef_construction, seed);
        return TR_OK;
    });
}

extern "C" int tr_hnsw_add_all(tr_hnsw *h, const float *X, size_t n, char *err, size_t errlen)
{
    size_t d = *(size_t *)h->space.get_dist_func_param();
    return guarded(err, errlen, "add", [&] {
        for (size_t i = 0; i < n; i++) h->index.addPoint(X + i * d, (hnswlib::labeltype)i);
        return TR_OK;
    });
}

extern "C" int tr_hnsw_add(tr_hnsw *h, const float *x, size_t label, char *err, size_t errlen)
{
    return guarded(err, errlen, "add", [&] {
        h->index.addPoint(x, (hnswlib::labeltype)label);
        return TR_OK;
    });
}

extern "C" void tr_hnsw_delete(tr_hnsw *h, size_t label)
{
    try {
        h->index.markDelete((hnswlib::labeltype)label);
    } catch (...) {
        /* absent or already deleted: nothing to do */
    }
}

extern "C" void tr_hnsw_set_ef(tr_hnsw *h, size_t ef)
{
    h->index.setEf(ef);
}

extern "C" int tr_hnsw_query(const tr_hnsw *h, const float *x, size_t kq, int32_t *labels,
                             float *dist, size_t *found, char *err, size_t errlen)
{
    *found = 0;
    return guarded(err, errlen, "query", [&] {
        auto pq = h->index.searchKnn(x, kq);
        size_t m = pq.size();
        // The queue pops farthest first: fill from the back.
        for (size_t i = m; i-- > 0;) {
            labels[i] = (int32_t)pq.top().second;
            dist[i] = pq.top().first;
            pq.pop();
        }
        *found = m;
        return TR_OK;
    });
}

extern "C" void tr_hnsw_free(tr_hnsw *h)
{
    delete h;
}
