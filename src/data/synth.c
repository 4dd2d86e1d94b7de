/* `taskroute synth`: a deterministic synthetic routing dataset with the
 * structure real traffic has, so that the demo and the tests exercise what
 * matters for routing:
 *  - latent task types (code, math, legal, ...), each with its own vocabulary
 *    and several slot-filled templates of varied length; generic openers,
 *    closers and shared words keep tasks from being trivially separable;
 *  - models from a tiny cheap one to a frontier one (prices span 100x), each
 *    leading on some tasks as real models do: a code model on code and SQL,
 *    a small instruct model on summaries, a mid-size one on legal, finance
 *    and trivia, a large one on medical and creative writing, the frontier
 *    one on math, logic and chemistry; the most expensive model is only the
 *    best on average, so routing by task beats it at a fraction of its cost;
 *  - per-prompt difficulty shared by all models (P(correct) is a logistic in
 *    ability + task skill - difficulty), mostly 0/1 scores, fractional ones
 *    for graded tasks (translation, summaries, creative writing);
 *  - costs = tokens x price with noise; some label noise; some missing labels.
 * Every random choice comes from one tr_rng seeded from the options, and the
 * numbers are rounded before printing, so a seed gives the same bytes. */
#include "data/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "base/util.h"

typedef struct synth_model {
    const char *name;
    double price;      /* USD per 1k tokens (input and output blended) */
    double ability;    /* logit of general quality */
    double verbosity;  /* output-length factor */
} synth_model;

/* Cheapest first: a default of 6 takes tiny .. frontier. */
static const synth_model MODELS[TR_SYNTH_MAX_MODELS] = {
    {"tiny-1b", 0.0001, -0.8, 0.8},
    {"small-8b-instruct", 0.0003, 0.0, 0.9},
    {"code-7b", 0.0005, 0.1, 1.0},
    {"mid-70b", 0.0012, 0.9, 1.0},
    {"large-moe", 0.004, 1.5, 1.1},
    {"frontier-xl", 0.01, 2.1, 1.2},
    {"math-34b", 0.0015, 0.8, 1.1},
    {"legacy-turbo", 0.002, 0.7, 0.9},
};

#define NW 12 /* slot fillers per list (NULL-terminated shorter lists allowed) */

typedef struct synth_task {
    const char *name;
    const char *tmpl[6];          /* {a} {b} {c}: fillers; {n} {m}: numbers */
    const char *a[NW], *b[NW], *c[NW];
    const char *context[6];       /* optional extra sentences (length variety) */
    double difficulty;            /* mean prompt difficulty (logit) */
    double out_tokens;            /* mean answer length */
    int graded;                   /* 1: fractional scores */
    double skill[TR_SYNTH_MAX_MODELS]; /* per-model offset on this task */
    double weight;                /* share of traffic */
} synth_task;

static const synth_task TASKS[TR_SYNTH_MAX_TASKS] = {
    {"code",
     {"Write a {a} function that {b}.", "Why does this {a} code raise {c}?\n\n    def f(x):\n        return x[{n}]\n",
      "Refactor my {a} class so that it {b}, and add unit tests.", "In {a}, what is the idiomatic way to {b}?",
      "My {a} program crashes with {c} when the list has {m} items. How do I fix it?", NULL},
     {"Python", "Rust", "C", "Go", "JavaScript", "TypeScript", "Java", "C++", "Kotlin", "Haskell", "Ruby", "Swift"},
     {"reverses a linked list", "parses a CSV file", "deduplicates an array", "reads a file line by line",
      "memoizes a recursive call", "sorts records by two keys", "retries an HTTP request with backoff",
      "merges two sorted lists", "validates an email address", "streams a large JSON file", "spawns worker threads",
      "caches results in a hash map"},
     {"IndexError", "a segmentation fault", "a null pointer exception", "TypeError: undefined is not a function",
      "a borrow checker error", "a stack overflow", "KeyError", "a deadlock", "an off-by-one error",
      "ConcurrentModificationException", NULL},
     {"I am using the latest compiler.", "Performance matters here.", "Please include comments in the code.",
      "The code runs inside a web server.", "I am a beginner.", NULL},
     0.2, 350, 0, {-0.5, -0.4, 3.0, 0.0, 0.1, -0.6, -0.3, 0.2}, 1.6},
    {"math",
     {"A train leaves at {n} km/h and another at {m} m/min. When do they meet if they start {n} km apart?",
      "Solve for x: {n}x + {m} = {a}.", "What is the probability of {b} when rolling {n} dice?",
      "A shop sells {a} items at ${n} each and gives a {n}% discount on orders over {m}. What is the total for {m} items?",
      "Prove that the sum of the first {n} odd numbers is a perfect square.", "Compute the derivative of {c} at x = {n}."},
     {"12", "45", "7", "100", "3", "64", "250", "19", "81", "5", "36", "1000"},
     {"getting at least one six", "an even total", "all faces different", "a sum above 10", "two pairs",
      "exactly three ones", "no repeated number", NULL},
     {"x^3 sin(x)", "e^(2x) / x", "ln(x^2 + 1)", "sqrt(x) cos(x)", "x^x", "tan(x)^2", "1/(1+x^2)", NULL},
     {"Show your work step by step.", "Give the final answer as a fraction.", "This is for my homework.",
      "Round to two decimals.", NULL},
     0.9, 250, 0, {-1.6, -1.3, -0.4, 0.0, 0.2, 0.6, 1.6, -0.5}, 1.3},
    {"legal",
     {"Is a {a} enforceable if {b}?", "Draft a clause for a {a} that covers {c}.",
      "What are my rights as a {c} when {b}?", "Summarise the legal risks of {b} under {a} law.",
      "Can my landlord {b} without notice? I have a {a}.", NULL},
     {"non-compete agreement", "lease", "employment contract", "NDA", "sales contract", "software licence",
      "partnership agreement", "will", "GDPR", "consumer protection", "tenancy agreement", "settlement"},
     {"it was signed electronically", "one party was a minor", "the terms changed after signing",
      "the company was acquired", "there is no written copy", "the deadline passed", "payment was late",
      "the tenant sublets the flat", NULL},
     {"tenant", "employee", "contractor", "shareholder", "data subject", "consumer", "licensee", "guarantor",
      "liability and indemnity", "termination for convenience", NULL},
     {"I am in California.", "This concerns the jurisdiction of England and Wales.",
      "The contract is {m} words long.", "I cannot afford a lawyer right now.", NULL},
     0.5, 300, 0, {-0.6, -0.3, -1.0, 1.6, 0.5, -0.2, -0.8, 0.0}, 0.8},
    {"medical",
     {"What are the common side effects of {a}?", "Is it safe to take {a} together with {b}?",
      "My {c} has had {b} for {n} days. Should we see a doctor?", "Explain the difference between {a} and {b}.",
      "What dose of {a} is typical for a {c} weighing {n} kg?", NULL},
     {"ibuprofen", "metformin", "amoxicillin", "lisinopril", "atorvastatin", "paracetamol", "sertraline",
      "omeprazole", "prednisone", "warfarin", "levothyroxine", "insulin glargine"},
     {"grapefruit juice", "alcohol", "a fever", "a persistent cough", "high blood pressure", "a rash",
      "shortness of breath", "migraines", "vitamin K", "antihistamines", NULL},
     {"child", "elderly patient", "pregnant woman", "teenager", "adult", "infant", NULL},
     {"I am not a doctor.", "The symptoms started after a long flight.", "There is a family history of diabetes.",
      "Please answer in plain language.", NULL},
     0.4, 250, 0, {-0.9, -0.5, -1.0, 0.1, 1.4, 0.0, -0.6, 0.0}, 0.9},
    {"translation",
     {"Translate into {a}: \"{b}\"", "How do you say \"{b}\" in {a}?",
      "Translate this sentence from {a} to English: \"{c}\"", "Give a natural {a} translation of: {b}", NULL},
     {"French", "German", "Spanish", "Japanese", "Italian", "Portuguese", "Dutch", "Korean", "Polish", "Turkish",
      "Swedish", "Chinese"},
     {"Where is the nearest train station?", "The meeting has been moved to Thursday.",
      "Could you send me the invoice by email?", "I would like a table for {n} people.",
      "The weather will be sunny tomorrow.", "Please keep the change.", "Our flight was cancelled.",
      "Thank you for your patience.", NULL},
     {"Je voudrais un caf\xc3\xa9 cr\xc3\xa8me, s'il vous pla\xc3\xaet.", "Wir sehen uns n\xc3\xa4" "chste Woche.",
      "\xc2\xbf" "D\xc3\xb3nde est\xc3\xa1 la biblioteca?", "\xe4\xbb\x8a\xe6\x97\xa5\xe3\x81\xaf\xe3\x81\x84\xe3\x81\x84\xe5\xa4\xa9\xe6\xb0\x97\xe3\x81\xa7\xe3\x81\x99\xe3\x81\xad\xe3\x80\x82",
      "Il treno \xc3\xa8 in ritardo.", NULL},
     {"Keep it formal.", "This is for a menu.", "Use informal speech.", NULL},
     -2.0, 60, 1, {1.0, 2.6, -0.5, 0.8, 0.3, -0.6, -0.6, 0.5}, 1.2},
    {"summarization",
     {"Summarise the following article in {n} sentences: {a} {b} {c}", "Give me a TL;DR of this email: {a} {b}",
      "Condense these meeting notes into bullet points: {c} {a}", "Write a one-paragraph abstract for: {b} {c}", NULL},
     {"The quarterly report shows revenue grew {n}% while costs stayed flat.",
      "The city council voted to extend the bike lane network by {n} km.",
      "Researchers found that sleep quality affects memory consolidation.",
      "The team shipped the new onboarding flow after {n} weeks of testing.",
      "Heavy rain caused delays across the regional rail network.", "Customer churn fell after the price change.", NULL},
     {"Several stakeholders raised concerns about the timeline.", "A follow-up meeting is planned for next month.",
      "Critics argue the sample size of {m} was too small.", "The budget was approved with minor changes.",
      "Two senior engineers will lead the migration.", "Further analysis is needed before a decision.", NULL},
     {"Action items: review the draft, update the roadmap, confirm the venue.",
      "Attendees: product, design, engineering, legal.", "The vendor offered a {n}% discount.",
      "Open question: who owns the data pipeline?", NULL},
     {"Keep it under {m} characters.", "The audience is executives.", NULL},
     -1.6, 120, 1, {0.8, 2.2, -0.2, 0.6, 0.2, -0.5, -0.3, 0.4}, 1.1},
    {"trivia",
     {"Who {a}?", "What is the capital of {b}?", "In which year did {c}?", "Which planet {a}?",
      "Quick question: who {a}?", NULL},
     {"painted the Mona Lisa", "wrote Pride and Prejudice", "discovered penicillin", "invented the telephone",
      "has the most moons", "is closest to the sun", "composed the Four Seasons", "was the first person on the moon",
      "founded Rome according to legend", "wrote One Hundred Years of Solitude", NULL},
     {"Australia", "Canada", "Kenya", "Peru", "Mongolia", "Norway", "Vietnam", "Morocco", "Chile", "Finland",
      "New Zealand", "Egypt"},
     {"the Berlin Wall fall", "the Titanic sink", "World War I end", "the first iPhone launch", "Apollo 11 land",
      "the printing press appear in Europe", NULL},
     {"I need this for a pub quiz.", "Just the answer please.", NULL},
     -1.0, 30, 0, {0.5, 0.9, -0.4, 1.4, 0.1, 0.0, -0.5, 0.3}, 1.4},
    {"creative",
     {"Write a short poem about {a} in the style of {b}.", "Write a {n}-word story where {c}.",
      "Give me {n} creative names for a {a} startup.", "Write song lyrics about {a} and {c}.",
      "Describe {a} as if you were {b}.", NULL},
     {"the ocean at night", "autumn leaves", "a lonely robot", "coffee", "a city in the rain", "first love",
      "a lighthouse keeper", "time travel", "an old bookshop", "mountains", NULL},
     {"Emily Dickinson", "a pirate", "Shakespeare", "a sports commentator", "a noir detective", "a children's book",
      "haiku", NULL},
     {"a cat becomes mayor", "the moon disappears", "two strangers swap phones", "it never stops snowing",
      "a dragon opens a bakery", NULL},
     {"Make it funny.", "Make it melancholic.", "It is for my friend's birthday.", "Avoid clich\xc3\xa9s.", NULL},
     0.0, 400, 1, {-0.6, -0.2, -0.8, 0.0, 1.3, -0.4, -0.6, 0.0}, 1.0},
    {"sql",
     {"Write a SQL query that returns {a} from the {b} table.", "Why is my query on {b} slow? It joins {c} rows.",
      "Convert this to a window function: SELECT {a} FROM {b} GROUP BY id;",
      "How do I {a} in PostgreSQL for the {b} table?", NULL},
     {"the top {n} customers by revenue", "duplicate rows", "monthly active users", "the second highest salary",
      "orders without a shipment", "a running total", "median order value", "users who churned", NULL},
     {"orders", "customers", "employees", "events", "invoices", "products", "sessions", "payments", NULL},
     {"{m}", "50 million", "{m} thousand", NULL},
     {"We use PostgreSQL 15.", "The table has an index on created_at.", "Please explain the query plan.", NULL},
     0.2, 120, 0, {-0.5, 0.0, 2.9, 0.2, 0.1, -0.5, -0.3, 0.3}, 0.9},
    {"chemistry",
     {"Balance the equation: {a}.", "What is the molar mass of {b}?",
      "Explain why {c}.", "How many grams of {b} are in {n} moles?", "Predict the product of {a}.", NULL},
     {"H2 + O2 -> H2O", "Fe + O2 -> Fe2O3", "C3H8 + O2 -> CO2 + H2O", "NaOH + HCl", "CH4 + Cl2 under UV light",
      "Zn + CuSO4", NULL},
     {"sulfuric acid", "glucose", "sodium chloride", "ethanol", "calcium carbonate", "ammonia", "benzene", NULL},
     {"noble gases are unreactive", "ice floats on water", "catalysts speed up reactions",
      "salt lowers the freezing point of water", "carbon forms four bonds", NULL},
     {"Use standard conditions.", "Show the stoichiometry.", NULL},
     0.7, 200, 0, {-1.0, -0.7, -0.6, 0.0, 0.3, 0.6, 0.6, -0.2}, 0.7},
    {"finance",
     {"Should I pay off my {a} or invest in {b}?", "How is {c} calculated?",
      "Explain {c} to someone new to investing.", "I earn ${m} a month. How much should go to {b}?",
      "What happens to {b} when interest rates rise by {n} basis points?", NULL},
     {"student loan", "mortgage", "credit card debt", "car loan", NULL},
     {"index funds", "bonds", "a pension", "an emergency fund", "real estate", "dividend stocks", NULL},
     {"compound interest", "the price-to-earnings ratio", "capital gains tax", "inflation-adjusted return",
      "net present value", "a bond's yield to maturity", NULL},
     {"I am {n} years old.", "I live in Germany.", "I have a low risk tolerance.", NULL},
     0.3, 200, 0, {-0.7, -0.4, -0.8, 1.5, 0.3, -0.1, 0.0, 0.0}, 0.8},
    {"logic",
     {"{a} If {b}, who {c}?", "Three boxes are labelled wrongly. {b}. Which box {c}?",
      "{a} Each person tells the truth or always lies. {b}. Who {c}?",
      "Solve this puzzle: {a} Given that {b}, determine who {c}.", NULL},
     {"Alice, Bob and Carol sit in a row.", "Five houses stand in a row, each painted a different colour.",
      "Four friends each own one pet.", "A knight and a knave stand at a fork in the road.", NULL},
     {"the person with the cat sits left of Bob", "the green house is right of the white one",
      "Carol never sits at the end", "the liar points to the left road", "you may open only one box", NULL},
     {"owns the fish", "sits in the middle", "lives in the red house", "is the knave", "contains the apples", NULL},
     {"Explain your reasoning.", "There is exactly one solution.", NULL},
     1.6, 300, 0, {-1.5, -1.5, -0.5, -0.2, 0.2, 0.8, 0.9, -0.4}, 0.8},
};

static const char *OPENERS[] = {"Hi!", "Quick question:", "Can you help me with this?", "Hello, I need some help.",
                                "Please help:", "I have a simple question.", "Hey,"};
static const char *CLOSERS[] = {"Please explain step by step.", "Keep it short.", "Thanks!",
                                "Give an example please.", "Explain it simply.", "Thanks in advance.",
                                "I need this today."};

void tr_synth_options_default(tr_synth_options *o)
{
    o->prompts = 4000;
    o->models = 6;
    o->tasks = TR_SYNTH_MAX_TASKS;
    o->seed = 42;
    o->missing = 0.03;
    o->noise = 0.03;
}

const char *tr_synth_model_name(int m) { return m >= 0 && m < TR_SYNTH_MAX_MODELS ? MODELS[m].name : NULL; }
double tr_synth_model_price(int m) { return m >= 0 && m < TR_SYNTH_MAX_MODELS ? MODELS[m].price : NAN; }
const char *tr_synth_task_name(int t) { return t >= 0 && t < TR_SYNTH_MAX_TASKS ? TASKS[t].name : NULL; }

static size_t count(const char *const *v, size_t max)
{
    size_t n = 0;
    while (n < max && v[n]) n++;
    return n;
}

static const char *pick(tr_rng *r, const char *const *v, size_t max)
{
    return v[tr_rng_below(r, count(v, max))];
}

/* A growing text; fails sticky on allocation failure. */
typedef struct text { char *s; size_t len, cap; int oom; } text;

static void put(text *t, const char *s, size_t n)
{
    if (t->oom) return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        while (cap < t->len + n + 1) cap *= 2;
        char *ns = tr_realloc(t->s, cap);
        if (!ns) { t->oom = 1; return; }
        t->s = ns;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = 0;
}

static void puts_(text *t, const char *s) { put(t, s, strlen(s)); }

/* Expand {a} {b} {c} {n} {m} in tmpl; fillers may themselves hold {n}/{m}. */
static void expand(text *t, tr_rng *r, const synth_task *k, const char *tmpl)
{
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '{' && p[1] && p[2] == '}') {
            char num[32];
            switch (p[1]) {
            case 'a': expand(t, r, k, pick(r, k->a, NW)); break;
            case 'b': expand(t, r, k, pick(r, k->b, NW)); break;
            case 'c': expand(t, r, k, pick(r, k->c, NW)); break;
            case 'n': snprintf(num, sizeof num, "%d", 2 + (int)tr_rng_below(r, 98)); puts_(t, num); break;
            case 'm': snprintf(num, sizeof num, "%d", 100 + (int)tr_rng_below(r, 9900)); puts_(t, num); break;
            default: put(t, p, 3); break;
            }
            p += 2;
        } else {
            put(t, p, 1);
        }
    }
}

static void make_prompt(text *t, tr_rng *r, const synth_task *k)
{
    t->len = 0;
    if (t->s) t->s[0] = 0;
    if (tr_rng_uniform(r) < 0.3) { puts_(t, OPENERS[tr_rng_below(r, sizeof OPENERS / sizeof *OPENERS)]); puts_(t, " "); }
    expand(t, r, k, pick(r, k->tmpl, 6));
    /* 0-3 context sentences: prompt lengths vary like real traffic */
    int extra = (int)tr_rng_below(r, 4);
    if (tr_rng_uniform(r) < 0.4) extra = 0;
    size_t nc = count(k->context, 6), first = tr_rng_below(r, nc);
    if ((size_t)extra > nc) extra = (int)nc;
    for (int i = 0; i < extra; i++) { /* consecutive, so never the same sentence twice */
        puts_(t, " ");
        expand(t, r, k, k->context[(first + (size_t)i) % nc]);
    }
    if (tr_rng_uniform(r) < 0.35) { puts_(t, " "); puts_(t, CLOSERS[tr_rng_below(r, sizeof CLOSERS / sizeof *CLOSERS)]); }
}

/* x rounded to 'sig' significant digits, so the printed number is short and
 * the same everywhere. */
static double round_sig(double x, int sig)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*e", sig - 1, x);
    return strtod(buf, NULL);
}

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

int tr_synth_write(const tr_synth_options *o, FILE *f, char *err, size_t errlen)
{
    if (!o || !f) return tr_errorf(err, errlen, TR_EINVAL, "synth: options or file is NULL");
    if (o->prompts < 1 || o->prompts > 10000000)
        return tr_errorf(err, errlen, TR_EINVAL, "synth: prompts %zu is outside [1, 10000000]", o->prompts);
    if (o->models < 1 || o->models > TR_SYNTH_MAX_MODELS)
        return tr_errorf(err, errlen, TR_EINVAL, "synth: models %d is outside [1, %d]", o->models, TR_SYNTH_MAX_MODELS);
    if (o->tasks < 1 || o->tasks > TR_SYNTH_MAX_TASKS)
        return tr_errorf(err, errlen, TR_EINVAL, "synth: tasks %d is outside [1, %d]", o->tasks, TR_SYNTH_MAX_TASKS);
    if (!(o->missing >= 0 && o->missing < 1))
        return tr_errorf(err, errlen, TR_EINVAL, "synth: missing %g is outside [0, 1)", o->missing);
    if (!(o->noise >= 0 && o->noise <= 1))
        return tr_errorf(err, errlen, TR_EINVAL, "synth: noise %g is outside [0, 1]", o->noise);

    tr_rng r;
    tr_rng_seed(&r, o->seed ^ 0x73796e7468ULL); /* "synth": its own stream for a shared seed */
    text prompt = {0};
    double wsum = 0;
    for (int t = 0; t < o->tasks; t++) wsum += TASKS[t].weight;
    int rc = TR_OK;

    for (size_t i = 0; i < o->prompts; i++) {
        /* task by traffic share */
        double u = tr_rng_uniform(&r) * wsum;
        int t = 0;
        while (t < o->tasks - 1 && u >= TASKS[t].weight) u -= TASKS[t++].weight;
        const synth_task *k = &TASKS[t];
        make_prompt(&prompt, &r, k);
        if (prompt.oom) { rc = tr_errorf(err, errlen, TR_ENOMEM, "synth: out of memory"); goto done; }
        double difficulty = k->difficulty + 0.9 * tr_rng_normal(&r) + 0.002 * (double)prompt.len;
        double in_tokens = ceil((double)prompt.len / 4.0);

        cJSON *rec = cJSON_CreateObject(), *sc = NULL, *co = NULL;
        char id[32];
        snprintf(id, sizeof id, "syn-%06zu", i + 1);
        if (!rec || !cJSON_AddStringToObject(rec, "id", id) ||
            !cJSON_AddStringToObject(rec, "prompt", prompt.s) ||
            !cJSON_AddStringToObject(rec, "task", k->name) ||
            !(sc = cJSON_AddObjectToObject(rec, "scores")) || !(co = cJSON_AddObjectToObject(rec, "costs"))) {
            cJSON_Delete(rec);
            rc = tr_errorf(err, errlen, TR_ENOMEM, "synth: out of memory");
            goto done;
        }
        int ok = 1;
        for (int m = 0; m < o->models && ok; m++) {
            const synth_model *md = &MODELS[m];
            /* draw everything first so the stream does not depend on 'missing' */
            double p = sigmoid(md->ability + k->skill[m] - difficulty);
            double draw = tr_rng_uniform(&r), jitter = tr_rng_normal(&r);
            double noisy = tr_rng_uniform(&r), noise_val = tr_rng_uniform(&r);
            double absent = tr_rng_uniform(&r);
            double len_noise = exp(0.35 * tr_rng_normal(&r)), price_noise = exp(0.1 * tr_rng_normal(&r));
            double score;
            if (k->graded) {
                score = p + 0.12 * jitter;
                if (noisy < o->noise) score = noise_val;
                score = round(fmin(1, fmax(0, score)) * 20) / 20; /* a 0.05-step grade */
            } else {
                score = draw < p ? 1 : 0;
                if (noisy < o->noise) score = 1 - score;
            }
            double out_tokens = k->out_tokens * md->verbosity * len_noise;
            if (!strcmp(k->name, "translation")) out_tokens += in_tokens;
            double cost = round_sig((in_tokens + out_tokens) / 1000.0 * md->price * price_noise, 3);
            if (absent < o->missing) continue;
            ok = cJSON_AddNumberToObject(sc, md->name, score) && cJSON_AddNumberToObject(co, md->name, cost);
        }
        char *line = ok ? cJSON_PrintUnformatted(rec) : NULL;
        cJSON_Delete(rec);
        if (!line) { rc = tr_errorf(err, errlen, TR_ENOMEM, "synth: out of memory"); goto done; }
        int wr = fputs(line, f) < 0 || fputc('\n', f) == EOF;
        cJSON_free(line);
        if (wr) { rc = tr_errorf(err, errlen, TR_EIO, "synth: write failed after %zu records", i); goto done; }
    }
    if (ferror(f)) rc = tr_errorf(err, errlen, TR_EIO, "synth: write failed");
done:
    tr_free(prompt.s);
    return rc;
}
