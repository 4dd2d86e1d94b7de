// The extern "C" wrapper over SentencePiece 0.1.97 declared in embed/spm.h.
// Everything SentencePiece can throw (std::bad_alloc, std::exception, or
// anything else) is caught at each entry point and turned into a status and
// a message; util::Status errors are mapped the same way.  Training reads
// the prompts through a SentenceIterator and writes the model into a string,
// so no temporary file is involved.  Trainer flags pin everything that
// could vary between runs (thread count, no sampling, no shuffling, seed).
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "embed/spm.h"
extern "C" {
#include "base/util.h"
}

struct tr_spm {
    sentencepiece::SentencePieceProcessor proc;
    std::string bytes;  // the serialised model, kept for tr_spm_serialize
};

namespace {

// Feeds borrowed texts to the trainer one by one (no copy of the corpus
// beyond the current sentence).
class TextIterator : public sentencepiece::SentenceIterator {
  public:
    TextIterator(const char *const *texts, const size_t *lens, size_t n)
        : texts_(texts), lens_(lens), n_(n) { load(); }
    bool done() const override { return i_ >= n_; }
    void Next() override { i_++; load(); }
    const std::string &value() const override { return cur_; }
    sentencepiece::util::Status status() const override { return {}; }

  private:
    void load()
    {
        if (i_ < n_) cur_.assign(texts_[i_], lens_[i_]);
    }
    const char *const *texts_;
    const size_t *lens_;
    size_t n_, i_ = 0;
    std::string cur_;
};

int map_status(const sentencepiece::util::Status &st, int code, char *err,
               size_t errlen, const char *what)
{
    return tr_errorf(err, errlen, code, "sentencepiece %s: %s", what,
                     st.ToString().c_str());
}

// The largest vocabulary the trainer says it can reach, parsed from its
// message "Vocabulary size is too high (N). Please set it to a value <= M."
// -1 when the message is another one.
long parse_vocab_limit(const std::string &msg)
{
    const char *key = "value <= ";
    size_t at = msg.find(key);
    if (at == std::string::npos) return -1;
    return std::strtol(msg.c_str() + at + std::strlen(key), nullptr, 10);
}

// From "Vocabulary size is smaller than required_chars. 20 vs 37." the 37;
// -1 for another message.
long parse_required_chars(const std::string &msg)
{
    const char *key = "required_chars. ";
    size_t at = msg.find(key);
    if (at == std::string::npos) return -1;
    size_t vs = msg.find(" vs ", at);
    if (vs == std::string::npos) return -1;
    return std::strtol(msg.c_str() + vs + 4, nullptr, 10);
}

// "--name=value --name2=value2" into kw (later entries win).
int parse_flags(const char *s, std::unordered_map<std::string, std::string> *kw,
                char *err, size_t errlen)
{
    std::string all(s);
    size_t i = 0;
    while (i < all.size()) {
        while (i < all.size() && all[i] == ' ') i++;
        if (i >= all.size()) break;
        size_t j = all.find(' ', i);
        if (j == std::string::npos) j = all.size();
        std::string tok = all.substr(i, j - i);
        i = j;
        size_t eq = tok.find('=');
        if (tok.compare(0, 2, "--") != 0 || eq == std::string::npos || eq == 2)
            return tr_errorf(err, errlen, TR_EINVAL,
                             "sentencepiece flag '%s': want --name=value", tok.c_str());
        (*kw)[tok.substr(2, eq - 2)] = tok.substr(eq + 1);
    }
    return TR_OK;
}

}  // namespace

extern "C" int tr_spm_train(const char *const *texts, const size_t *lens, size_t n,
                            const tr_spm_train_params *p, tr_spm **out, int *vocab_out,
                            char *err, size_t errlen)
{
    if (out) *out = nullptr;
    if (!texts || !lens || !p || !out || n == 0)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_spm_train: no texts or no output");
    if (p->vocab_size < 8 || p->threads < 1)
        return tr_errorf(err, errlen, TR_EINVAL,
                         "tr_spm_train: vocab_size %d (want >= 8), threads %d (want >= 1)",
                         p->vocab_size, p->threads);
    tr_spm *sp = nullptr;
    try {
        // 0.1.97 keeps its generator seed in a global; training is offline,
        // so setting it here is acceptable.  (unsigned)-1 is reserved.
        unsigned seed = (unsigned)(p->seed ^ (p->seed >> 32));
        if (seed == ~0u) seed = 0;
        sentencepiece::SetRandomGeneratorSeed(seed);
        long vocab = p->vocab_size;
        std::string model;
        for (int attempt = 0;; attempt++) {
            // The map form: the string form logs its command line before
            // --minloglevel takes effect.
            std::unordered_map<std::string, std::string> kw = {
                {"model_type", "unigram"},
                {"vocab_size", std::to_string(vocab)},
                {"num_threads", std::to_string(p->threads)},
                {"minloglevel", "1"},
                {"input_sentence_size", "0"},
                {"shuffle_input_sentence", "false"},
                {"max_sentence_length", "16384"},
                {"split_digits", "true"},
                {"hard_vocab_limit", "false"},
            };
            if (p->extra_flags && *p->extra_flags) {
                int rc = parse_flags(p->extra_flags, &kw, err, errlen);
                if (rc != TR_OK) return rc;
            }
            TextIterator it(texts, lens, n);
            model.clear();
            auto st = sentencepiece::SentencePieceTrainer::Train(kw, &it, &model);
            if (st.ok()) break;
            long limit = parse_vocab_limit(st.ToString());
            if (attempt < 3 && limit >= 8 && limit < vocab) { vocab = limit; continue; }
            // Too small a vocabulary for the corpus's characters: grow it to
            // what the trainer requires (reported through *vocab_out).
            long need = parse_required_chars(st.ToString());
            if (attempt < 3 && need > vocab && need < (1L << 24)) { vocab = need; continue; }
            return map_status(st, TR_EDEP, err, errlen, "training");
        }
        sp = new tr_spm;
        auto st = sp->proc.LoadFromSerializedProto(model);
        if (!st.ok()) {
            delete sp;
            return map_status(st, TR_EDEP, err, errlen, "loading the trained model");
        }
        sp->bytes.swap(model);
        if (vocab_out) *vocab_out = sp->proc.GetPieceSize();
        *out = sp;
        return TR_OK;
    } catch (const std::bad_alloc &) {
        delete sp;
        return tr_errorf(err, errlen, TR_ENOMEM, "sentencepiece training: out of memory");
    } catch (const std::exception &e) {
        delete sp;
        return tr_errorf(err, errlen, TR_EDEP, "sentencepiece training: %s", e.what());
    } catch (...) {
        delete sp;
        return tr_errorf(err, errlen, TR_EDEP, "sentencepiece training: unknown exception");
    }
}

extern "C" int tr_spm_load(const void *data, size_t len, tr_spm **out, char *err, size_t errlen)
{
    if (out) *out = nullptr;
    if (!data || !out || len == 0)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_spm_load: no model bytes");
    tr_spm *sp = nullptr;
    try {
        sp = new tr_spm;
        sp->bytes.assign(static_cast<const char *>(data), len);
        auto st = sp->proc.LoadFromSerializedProto(sp->bytes);
        if (!st.ok()) {
            delete sp;
            return map_status(st, TR_EFORMAT, err, errlen, "model bytes");
        }
        if (sp->proc.GetPieceSize() < 4) {
            delete sp;
            return tr_errorf(err, errlen, TR_EFORMAT, "sentencepiece model bytes: empty vocabulary");
        }
        *out = sp;
        return TR_OK;
    } catch (const std::bad_alloc &) {
        delete sp;
        return tr_errorf(err, errlen, TR_ENOMEM, "sentencepiece load: out of memory");
    } catch (const std::exception &e) {
        delete sp;
        return tr_errorf(err, errlen, TR_EFORMAT, "sentencepiece load: %s", e.what());
    } catch (...) {
        delete sp;
        return tr_errorf(err, errlen, TR_EFORMAT, "sentencepiece load: unknown exception");
    }
}

extern "C" int tr_spm_serialize(const tr_spm *sp, const void **data, size_t *len)
{
    if (!sp || !data || !len) return TR_EINVAL;
    *data = sp->bytes.data();
    *len = sp->bytes.size();
    return TR_OK;
}

extern "C" void tr_spm_free(tr_spm *sp)
{
    try { delete sp; } catch (...) {}
}

extern "C" int tr_spm_vocab_size(const tr_spm *sp)
{
    if (!sp) return 0;
    try { return sp->proc.GetPieceSize(); } catch (...) { return 0; }
}

extern "C" const char *tr_spm_piece(const tr_spm *sp, int id)
{
    if (!sp) return nullptr;
    try {
        if (id < 0 || id >= sp->proc.GetPieceSize()) return nullptr;
        return sp->proc.IdToPiece(id).c_str();
    } catch (...) {
        return nullptr;
    }
}

extern "C" int tr_spm_encode(const tr_spm *sp, const char *text, size_t len,
                             int32_t *ids, size_t cap, size_t *count,
                             char *err, size_t errlen)
{
    return tr_spm_encode_skip(sp, text, len, 0, ids, cap, count, err, errlen);
}

extern "C" int tr_spm_encode_skip(const tr_spm *sp, const char *text, size_t len, size_t skip,
                                  int32_t *ids, size_t cap, size_t *count,
                                  char *err, size_t errlen)
{
    if (count) *count = 0;
    if (!sp || (!text && len) || (!ids && cap) || !count)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_spm_encode: bad arguments");
    try {
        // One vector per thread, reused: its capacity settles after a few calls.
        static thread_local std::vector<int> v;
        v.clear();
        auto st = sp->proc.Encode(absl::string_view(text ? text : "", len), &v);
        if (!st.ok()) return map_status(st, TR_EDEP, err, errlen, "encode");
        size_t have = v.size() > skip ? v.size() - skip : 0;
        size_t k = have < cap ? have : cap;
        for (size_t i = 0; i < k; i++) ids[i] = (int32_t)v[skip + i];
        *count = have;
        return TR_OK;
    } catch (const std::bad_alloc &) {
        return tr_errorf(err, errlen, TR_ENOMEM, "sentencepiece encode: out of memory");
    } catch (const std::exception &e) {
        return tr_errorf(err, errlen, TR_EDEP, "sentencepiece encode: %s", e.what());
    } catch (...) {
        return tr_errorf(err, errlen, TR_EDEP, "sentencepiece encode: unknown exception");
    }
}

extern "C" int tr_spm_encode_prefixed(const tr_spm *sp, const char *prefix, size_t plen, const char *text,
                                      size_t len, size_t skip, int32_t *ids, size_t cap, size_t *count,
                                      char *err, size_t errlen)
{
    if (count) *count = 0;
    if ((!prefix && plen) || (!text && len))
        return tr_errorf(err, errlen, TR_EINVAL, "tr_spm_encode_prefixed: bad arguments");
    try {
        // One string per thread, reused like the id vector.
        static thread_local std::string s;
        s.assign(prefix ? prefix : "", plen);
        s.append(text ? text : "", len);
        return tr_spm_encode_skip(sp, s.data(), s.size(), skip, ids, cap, count, err, errlen);
    } catch (const std::bad_alloc &) {
        return tr_errorf(err, errlen, TR_ENOMEM, "sentencepiece encode: out of memory");
    } catch (...) {
        return tr_errorf(err, errlen, TR_EDEP, "sentencepiece encode: unknown exception");
    }
}
