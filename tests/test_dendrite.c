/* test_dendrite.c — the active-dendrites layer (dendrite.h): forward by
 * hand on a tiny case (absolute-max gating, ties), backward against finite
 * differences for x, w, b and the segments (only the selected segment gets
 * gradient); the continual-learning MLP (zs_cl_*): learns, the context
 * changes the output, Adam learns, SI keeps the old task's weights closer
 * (SGD and Adam), bad arguments; the segment responses cached per context
 * equal fresh ones; the task-masked head (zs_cl_set_classes): the loss is
 * the softmax over the active classes only and the other classes' output
 * rows do not move. The layer against PyTorch:
 * tests/dendrite_torch.py. */
#include "check.h"
#include "dendrite.h"
#include "zs_internal.h"
#include "zeroskip.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 3, I = 5, U = 4, S = 3, C = 6, P = 2 };

static void fill(float *v, size_t n, unsigned seed, float scale) {
    zs_rng r;
    zs_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) v[i] = (2.0f * zs_rng_uniform(&r) - 1.0f) * scale;
}

static float x[N * I], w[U * I], b[U], useg[U * S * C], ctx[P * C], dout[N * U];
static const int32_t cid[N] = {0, 1, 1};

/* L = sum(dout * out) */
static double objective(void) {
    float out[N * U], a[N * U], gate[P * U];
    int32_t sel[P * U];
    zs_dendrite_forward(out, a, gate, sel, x, w, b, useg, ctx, cid, N, I, U, S, C, P);
    double l = 0;
    for (int i = 0; i < N * U; i++) l += (double)dout[i] * out[i];
    return l;
}

static void test_forward_by_hand(void) {
    /* one unit, two segments: d = (2, -3) -> |max| is -3 -> gate sigmoid(-3) */
    float xx[2] = {1, 2}, ww[2] = {0.5f, 0.25f}, bb[1] = {0.1f}, us[4] = {2, 0, -3, 0}, cc[2] = {1, 5};
    float out[1], a[1], gate[1];
    int32_t sel[1];
    zs_dendrite_forward(out, a, gate, sel, xx, ww, bb, us, cc, NULL, 1, 2, 1, 2, 2, 1);
    double want = (0.5 + 0.5 + 0.1) / (1 + exp(3.0));
    CHECK(sel[0] == 1 && fabs(out[0] - want) < 1e-6 && fabs(a[0] - 1.1f) < 1e-6, "gating by |max| segment: out %g want %g sel %d",
          (double)out[0], want, (int)sel[0]);
    float us2[4] = {2, 0, -2, 0}; /* |2| = |-2|: the lower segment */
    zs_dendrite_forward(out, a, gate, sel, xx, ww, bb, us2, cc, NULL, 1, 2, 1, 2, 2, 1);
    CHECK(sel[0] == 0, "tie goes to the lower segment");
}

static void test_backward_fd(void) {
    fill(x, N * I, 1, 1.0f);
    fill(w, U * I, 2, 0.5f);
    fill(b, U, 3, 0.5f);
    fill(useg, U * S * C, 4, 0.5f);
    fill(ctx, P * C, 5, 1.0f);
    fill(dout, N * U, 6, 1.0f);
    float out[N * U], a[N * U], gate[P * U], dx[N * I] = {0}, dw[U * I] = {0}, db[U] = {0}, du[U * S * C] = {0};
    int32_t sel[P * U];
    zs_dendrite_forward(out, a, gate, sel, x, w, b, useg, ctx, cid, N, I, U, S, C, P);
    zs_dendrite_backward(dx, dw, db, du, dout, x, w, a, gate, sel, ctx, cid, N, I, U, S, C);
    struct { float *p, *g; int n; const char *name; } t[4] = {{x, dx, N * I, "x"}, {w, dw, U * I, "w"}, {b, db, U, "b"}, {useg, du, U * S * C, "segments"}};
    for (int k = 0; k < 4; k++) {
        int bad = 0, unsel_nz = 0;
        for (int i = 0; i < t[k].n; i++) {
            float keep = t[k].p[i];
            double h = 1e-3;
            t[k].p[i] = keep + (float)h;
            double lp = objective();
            t[k].p[i] = keep - (float)h;
            double lm = objective();
            t[k].p[i] = keep;
            double fd = (lp - lm) / (2 * h);
            if (fabs(fd - t[k].g[i]) > 1e-3 + 1e-2 * fabs(fd)) {
                bad++;
                if (bad < 4) fprintf(stderr, "  d%s[%d]: analytic %g, finite difference %g\n", t[k].name, i, (double)t[k].g[i], fd);
            }
            if (k == 3) { /* a segment selected for no context gets nothing */
                int u = i / (S * C), s = (i / C) % S;
                if (sel[u] != s && sel[U + u] != s && t[k].g[i] != 0.0f) unsel_nz++;
            }
        }
        CHECK(bad == 0, "d%s = finite differences (%d of %d off)", t[k].name, bad, t[k].n);
        if (k == 3) CHECK(unsel_nz == 0, "unselected segments get no gradient");
    }
}

static void test_cl(void) {
    zs_cl_opts o = zs_cl_defaults();
    o.inputs = 16; o.hidden = 32; o.classes = 4; o.weight_sparsity = 0.5f; o.percent_on = 0.25f; o.segments = 2;
    zs_cl *m = NULL;
    CHECK(zs_cl_create(&m, &o) == ZS_OK, "create: %s", zs_last_error());
    if (!m) return;
    float xs[8 * 16], c2[2 * 16], lg[8 * 4], lg2[8 * 4];
    int32_t y[8], ci[8] = {0}, c1[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    fill(xs, 8 * 16, 9, 1.0f);
    fill(c2, 2 * 16, 10, 1.0f);
    for (int i = 0; i < 8; i++) y[i] = i % 4;
    float l0 = 0, l = 0;
    int fails = 0;
    for (int e = 0; e < 300; e++) fails += zs_cl_train_step(m, xs, y, 8, c2, 0.2f, e ? &l : &l0) != ZS_OK;
    CHECK(fails == 0, "300 training steps");
    CHECK(l < 0.5f * l0, "training reduces the loss (%g -> %g)", (double)l0, (double)l);
    zs_cl_infer(m, xs, 8, c2, 2, ci, lg);
    zs_cl_infer(m, xs, 8, c2, 2, c1, lg2);
    CHECK(memcmp(lg, lg2, sizeof lg) != 0, "the context changes the output");
    CHECK(zs_cl_infer(m, xs, 8, NULL, 0, NULL, lg) == ZS_EINVAL, "dendrites without context refused");
    int32_t badc[8] = {0, 0, 5};
    CHECK(zs_cl_infer(m, xs, 8, c2, 2, badc, lg) == ZS_EINVAL, "context index out of range refused");
    y[0] = 9;
    CHECK(zs_cl_train_step(m, xs, y, 8, c2, 0.05f, NULL) == ZS_EINVAL, "label out of range refused");
    zs_cl_free(m);
    o.weight_sparsity = 1.5f;
    CHECK(zs_cl_create(&m, &o) == ZS_EINVAL && !m, "bad sparsity refused");

    /* Adam: learns the same task (dendritic, sparse, k-WTA) */
    y[0] = 0;
    o.weight_sparsity = 0.5f;
    o.adam = 1;
    CHECK(zs_cl_create(&m, &o) == ZS_OK, "create (Adam): %s", zs_last_error());
    if (m) {
        fails = 0;
        for (int e = 0; e < 300; e++) fails += zs_cl_train_step(m, xs, y, 8, c2, 0.01f, e ? &l : &l0) != ZS_OK;
        CHECK(fails == 0 && l < 0.5f * l0, "Adam reduces the loss (%g -> %g)", (double)l0, (double)l);
        zs_cl_free(m);
    }

    /* SI: after task A, training task B moves the outputs on A less with SI
     * (plain SGD, then Adam) */
    for (int adam = 0; adam < 2; adam++) {
    double drift[2];
    for (int si = 0; si < 2; si++) {
        zs_cl_opts q = zs_cl_defaults();
        q.inputs = 16; q.hidden = 32; q.classes = 4; q.si_c = si ? 5.0f : 0.0f; q.adam = adam;
        float lr = adam ? 0.005f : 0.05f;
        zs_cl *n = NULL;
        zs_cl_create(&n, &q);
        float xa[8 * 16], xb[8 * 16], before[32], after[32];
        int32_t ya[8], yb[8];
        fill(xa, 128, 20, 1.0f);
        fill(xb, 128, 21, 1.0f);
        for (int i = 0; i < 8; i++) { ya[i] = i % 4; yb[i] = (i + 1) % 4; }
        for (int e = 0; e < 300; e++) zs_cl_train_step(n, xa, ya, 8, NULL, lr, NULL);
        zs_cl_task_end(n);
        zs_cl_infer(n, xa, 8, NULL, 0, NULL, before);
        for (int e = 0; e < 300; e++) zs_cl_train_step(n, xb, yb, 8, NULL, lr, NULL);
        zs_cl_infer(n, xa, 8, NULL, 0, NULL, after);
        drift[si] = 0;
        for (int i = 0; i < 32; i++) drift[si] += fabs(after[i] - before[i]);
        zs_cl_free(n);
    }
    CHECK(drift[1] < 0.7 * drift[0], "SI reduces the drift of task A's outputs (%s: %g vs %g)", adam ? "Adam" : "SGD",
          drift[1], drift[0]);
    }
}

/* The gating reads segment responses cached per context and refreshed only
 * where a segment moved. Two networks take the same Adam steps; between its
 * steps the second also evaluates 300 other contexts, which evicts the
 * training context's slot (256 slots) so that it is computed afresh: the
 * two must answer bit for bit alike. */
static void test_ctx_cache(void) {
    zs_cl_opts o = zs_cl_defaults();
    o.inputs = 16; o.hidden = 32; o.classes = 4; o.weight_sparsity = 0.5f; o.percent_on = 0.25f; o.segments = 3;
    o.adam = 1;
    zs_cl *a = NULL, *b = NULL;
    zs_cl_create(&a, &o);
    zs_cl_create(&b, &o);
    CHECK(a && b, "create: %s", zs_last_error());
    if (!a || !b) { zs_cl_free(a); zs_cl_free(b); return; }
    enum { NC = 300 };
    static float many[NC * 16];
    float xs[8 * 16], c2[2 * 16], la[8 * 4], lb[8 * 4], junk[8 * 4];
    int32_t y[8], ci[8] = {0, 1, 0, 1, 0, 1, 0, 1}, cm[8];
    fill(xs, 8 * 16, 30, 1.0f);
    fill(c2, 2 * 16, 31, 1.0f);
    fill(many, NC * 16, 32, 1.0f);
    for (int i = 0; i < 8; i++) y[i] = i % 4;
    int fails = 0;
    for (int e = 0; e < 40; e++) {
        const float *c = c2 + (e % 2) * 16;
        fails += zs_cl_train_step(a, xs, y, 8, c, 0.01f, NULL) != ZS_OK;
        fails += zs_cl_train_step(b, xs, y, 8, c, 0.01f, NULL) != ZS_OK;
        for (int k = 0; k < NC; k += 8) {
            int n = NC - k < 8 ? NC - k : 8;
            for (int i = 0; i < n; i++) cm[i] = i;
            fails += zs_cl_infer(b, xs, n, many + (size_t)k * 16, n, cm, junk) != ZS_OK;
        }
    }
    fails += zs_cl_infer(a, xs, 8, c2, 2, ci, la) != ZS_OK;
    fails += zs_cl_infer(b, xs, 8, c2, 2, ci, lb) != ZS_OK;
    CHECK(fails == 0, "steps and evaluations succeed");
    CHECK(memcmp(la, lb, sizeof la) == 0, "cached segment responses equal fresh ones (bit for bit)");
    zs_cl_free(a);
    zs_cl_free(b);
}

/* zs_cl_set_classes: a task-masked head. Without hidden layers the logits
 * are W x + b, so the masked loss can be checked by hand from the logits
 * before the step, and the inactive rows' logits must stay bit-identical. */
static void test_task_head(void) {
    zs_cl_opts o = zs_cl_defaults();
    o.inputs = 16; o.layers = 0; o.classes = 6;
    zs_cl *m = NULL;
    CHECK(zs_cl_create(&m, &o) == ZS_OK, "create (no hidden layer): %s", zs_last_error());
    if (!m) return;
    float xs[8 * 16], l0[8 * 6], l1[8 * 6], loss = 0;
    int32_t y[8];
    fill(xs, 8 * 16, 40, 1.0f);
    for (int i = 0; i < 8; i++) y[i] = 2 + i % 2;
    const uint8_t act[6] = {0, 0, 1, 1, 0, 0}, none[6] = {0};
    CHECK(zs_cl_set_classes(m, none) == ZS_EINVAL, "no active class refused");
    CHECK(zs_cl_set_classes(m, act) == ZS_OK, "set_classes: %s", zs_last_error());
    zs_cl_infer(m, xs, 8, NULL, 0, NULL, l0);
    CHECK(zs_cl_train_step(m, xs, y, 8, NULL, 0.1f, &loss) == ZS_OK, "masked step: %s", zs_last_error());
    double want = 0;
    for (int s = 0; s < 8; s++) {
        const float *z = l0 + s * 6;
        want += log(exp((double)z[2]) + exp((double)z[3])) - z[y[s]];
    }
    want /= 8;
    CHECK(fabs(loss - want) < 1e-5 * (1 + fabs(want)), "masked loss = 2-class cross-entropy (%g vs %g)", (double)loss,
          want);
    for (int e = 0; e < 50; e++) zs_cl_train_step(m, xs, y, 8, NULL, 0.1f, NULL);
    zs_cl_infer(m, xs, 8, NULL, 0, NULL, l1);
    int same = 1, moved = 0, right = 0;
    for (int s = 0; s < 8; s++)
        for (int k = 0; k < 6; k++) {
            if (!act[k]) same &= l1[s * 6 + k] == l0[s * 6 + k];
            else moved |= l1[s * 6 + k] != l0[s * 6 + k];
        }
    for (int s = 0; s < 8; s++) right += (l1[s * 6 + 3] > l1[s * 6 + 2] ? 3 : 2) == y[s];
    CHECK(same, "the inactive classes' logits do not move");
    CHECK(moved && right == 8, "the active classes learn (%d of 8 right)", right);
    y[0] = 4;
    CHECK(zs_cl_train_step(m, xs, y, 8, NULL, 0.1f, NULL) == ZS_EINVAL, "a label outside the active classes refused");
    /* NULL: the full softmax again, every row moves */
    CHECK(zs_cl_set_classes(m, NULL) == ZS_OK, "mask cleared");
    zs_cl_infer(m, xs, 8, NULL, 0, NULL, l0);
    CHECK(zs_cl_train_step(m, xs, y, 8, NULL, 0.1f, NULL) == ZS_OK, "unmasked step");
    zs_cl_infer(m, xs, 8, NULL, 0, NULL, l1);
    CHECK(l1[5] != l0[5], "without the mask every class's logit moves");
    zs_cl_free(m);
}

int main(void) {
    test_forward_by_hand();
    test_backward_fd();
    test_cl();
    test_ctx_cache();
    test_task_head();
    return check_finish("dendrite");
}
