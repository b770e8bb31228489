/* presets.c — the built-in architectures, as JSON (the same format users
 * write; see docs/ARCHITECTURE.md). gsc-* follow nupic.torch GSCSparseCNN. */
#include "zs_internal.h"

#define KW(name, pct) \
    "{\"type\":\"kwinners2d\",\"name\":\"" name "\",\"percent_on\":" pct ",\"k_inference_factor\":1.5," \
    "\"boost_strength\":1.5,\"boost_strength_factor\":0.9,\"duty_cycle_period\":1000,\"local\":false}"
#define KW1(name, pct) \
    "{\"type\":\"kwinners\",\"name\":\"" name "\",\"percent_on\":" pct ",\"k_inference_factor\":1.5," \
    "\"boost_strength\":1.5,\"boost_strength_factor\":0.9,\"duty_cycle_period\":1000}"
#define CONV(name, co, sp) \
    "{\"type\":\"conv2d\",\"name\":\"" name "\",\"out_channels\":" co ",\"kernel\":[5,5],\"stride\":1," \
    "\"padding\":0,\"bias\":true,\"sparsity\":" sp "}"
/* conv/linear with a mask structure (docs/ARCHITECTURE.md "Mask structures") */
#define CONVS(name, co, sp, st) \
    "{\"type\":\"conv2d\",\"name\":\"" name "\",\"out_channels\":" co ",\"kernel\":[5,5],\"stride\":1," \
    "\"padding\":0,\"bias\":true,\"sparsity\":" sp "," st "}"
#define LINS(name, o, sp, st) \
    "{\"type\":\"linear\",\"name\":\"" name "\",\"out_features\":" o ",\"bias\":true,\"sparsity\":" sp "," st "}"
#define BLOCK16 "\"structure\":\"block\",\"block\":16"
#define COMPL "\"structure\":\"complementary\""
#define CBLOCK16 "\"structure\":\"complementary\",\"block\":16"
#define ROUTED16 "\"structure\":\"routed\",\"block\":16"
#define BN(name) "{\"type\":\"batchnorm\",\"name\":\"" name "\",\"affine\":false,\"momentum\":0.1,\"eps\":1e-5}"
#define POOL(name) "{\"type\":\"maxpool2d\",\"name\":\"" name "\",\"kernel\":2,\"stride\":2}"
#define LIN(name, o, sp) \
    "{\"type\":\"linear\",\"name\":\"" name "\",\"out_features\":" o ",\"bias\":true,\"sparsity\":" sp "}"
#define RELU(name) "{\"type\":\"relu\",\"name\":\"" name "\"}"
#define FLATTEN "{\"type\":\"flatten\",\"name\":\"flatten\"}"
#define SOFTMAX "{\"type\":\"logsoftmax\",\"name\":\"softmax\"}"
#define GSC_CLASSES \
    "\"classes\":[\"unknown\",\"silence\",\"zero\",\"one\",\"two\",\"three\",\"four\",\"five\",\"six\"," \
    "\"seven\",\"eight\",\"nine\"]"

static const char *const names[] = {"gsc-sparse", "gsc-dense", "gsc-supersparse", "gsc-sparse-fast",
                                    "gsc-block", "gsc-block-fast", "gsc-complementary",
                                    "gsc-cblock-fast", "gsc-codesigned", "gsc-routed", "mnist-mlp", "mnist-sparse-mlp", NULL};

/* The GSC networks: input 1x32x32, conv1 + BN, conv2 + BN, a hidden
 * linear layer + BN + k-WTA, the 12-class output. */
#define GSC_HEAD(name) "{\"name\":\"" name "\",\"input\":[1,32,32]," GSC_CLASSES ",\"layers\":["
#define GSC_TAIL LIN("output", "12", "0.0") "," SOFTMAX "]}"
#define GSC_HIDDEN(linear) FLATTEN "," linear "," BN("linear_bn") "," KW1("linear_kwinner", "0.1") "," GSC_TAIL
/* nupic.torch's order (k-WTA before max-pool); conv2 and the hidden linear
 * layer given */
#define GSC_SPARSE(name, conv2, linear) \
    GSC_HEAD(name) \
    CONV("cnn1", "64", "0.5") "," BN("cnn1_batchnorm") "," KW("cnn1_kwinner", "0.095") "," POOL("cnn1_maxpool") "," \
    conv2 "," BN("cnn2_batchnorm") "," KW("cnn2_kwinner", "0.125") "," POOL("cnn2_maxpool") "," GSC_HIDDEN(linear)
/* k-WTA of a fixed k, after the max-pool (the 2019 paper's order) */
#define KWK(name, k) \
    "{\"type\":\"kwinners2d\",\"name\":\"" name "\",\"k\":" k ",\"k_inference_factor\":1.5," \
    "\"boost_strength\":1.5,\"boost_strength_factor\":0.9,\"duty_cycle_period\":1000,\"local\":false}"
/* max-pool before k-WTA: k = 1200 of 64x14x14 and 200 of 64x5x5 */
#define GSC_FAST(name, conv2, linear) \
    GSC_HEAD(name) \
    CONV("cnn1", "64", "0.5") "," BN("cnn1_batchnorm") "," POOL("cnn1_maxpool") "," KWK("cnn1_kwinner", "1200") "," \
    conv2 "," BN("cnn2_batchnorm") "," POOL("cnn2_maxpool") "," KWK("cnn2_kwinner", "200") "," GSC_HIDDEN(linear)

static const char *const jsons[] = {
    /* gsc-sparse: nupic.torch GSCSparseCNN (k-WTA before max-pool) */
    GSC_SPARSE("gsc-sparse", CONV("cnn2", "64", "0.8"), LIN("linear", "1000", "0.9")),
    /* gsc-dense: the same shapes, no weight sparsity, ReLU instead of k-WTA */
    GSC_HEAD("gsc-dense")
    CONV("cnn1", "64", "0.0") "," BN("cnn1_batchnorm") "," RELU("cnn1_relu") "," POOL("cnn1_maxpool") ","
    CONV("cnn2", "64", "0.0") "," BN("cnn2_batchnorm") "," RELU("cnn2_relu") "," POOL("cnn2_maxpool") ","
    FLATTEN "," LIN("linear", "1000", "0.0") "," BN("linear_bn") "," RELU("linear_relu") "," GSC_TAIL,
    /* gsc-supersparse: linear 1500 units, 95 % weights zero, k = 150 */
    GSC_SPARSE("gsc-supersparse", CONV("cnn2", "64", "0.8"), LIN("linear", "1500", "0.95")),
    /* gsc-sparse-fast: codesigned, max-pool before k-WTA (2019 paper order) */
    GSC_FAST("gsc-sparse-fast", CONV("cnn2", "64", "0.8"), LIN("linear", "1000", "0.9")),
    /* gsc-block: gsc-sparse with block-structured masks in conv2 and the
     * hidden linear layer: per fan-in position the kept outputs come in
     * aligned blocks of 16 (one AVX-512 vector, two AVX2 vectors) */
    GSC_SPARSE("gsc-block", CONVS("cnn2", "64", "0.8", BLOCK16), LINS("linear", "1000", "0.9", BLOCK16)),
    /* gsc-block-fast: gsc-block in gsc-sparse-fast's order (max-pool before k-WTA) */
    GSC_FAST("gsc-block-fast", CONVS("cnn2", "64", "0.8", BLOCK16), LINS("linear", "1000", "0.9", BLOCK16)),
    /* gsc-complementary: complementary masks (Hunter et al. 2021): conv2
     * 75 % zeros in groups of 4 channels (64 is not a multiple of 5), the
     * hidden linear layer 90 % zeros in groups of 10 units; each fan-in
     * position is kept by exactly one unit of every group */
    GSC_SPARSE("gsc-complementary", CONVS("cnn2", "64", "0.75", COMPL), LINS("linear", "1000", "0.9", COMPL)),
    /* gsc-cblock-fast: complementary 16-channel blocks in conv2 (75 % zeros:
     * every (ci, ky, kx) feeds exactly one of the 4 blocks, so each non-zero
     * input costs one full vector per tap), 16-unit blocks in the hidden
     * linear layer, max-pool before k-WTA */
    GSC_FAST("gsc-cblock-fast", CONVS("cnn2", "64", "0.75", CBLOCK16), LINS("linear", "1000", "0.9", BLOCK16)),
    /* gsc-codesigned: the shipped codesigned network (issue 10; chosen by
     * measurement, docs/BENCHMARKS.md "Codesigned networks"): gsc-cblock-fast
     * with the hidden linear layer at 96 % zeros (16-unit blocks), so the
     * packed file is >= 10x smaller than gsc-dense's */
    GSC_FAST("gsc-codesigned", CONVS("cnn2", "64", "0.75", CBLOCK16), LINS("linear", "1000", "0.96", BLOCK16)),
    /* gsc-routed: gsc-codesigned with "routed" conv2 masks (75 % zeros:
     * input channels in 4 classes, class c feeds 16-channel block
     * (c + ky) mod 4 at kernel row ky, all kx), which conv_sparse_routed
     * sums in registers */
    GSC_FAST("gsc-routed", CONVS("cnn2", "64", "0.75", ROUTED16), LINS("linear", "1000", "0.96", BLOCK16)),
    /* mnist-mlp: 28x28 images, dense */
    "{\"name\":\"mnist-mlp\",\"input\":[1,28,28],\"layers\":["
    FLATTEN "," LIN("fc1", "512", "0.0") "," RELU("fc1_relu") ","
    LIN("output", "10", "0.0") "," SOFTMAX "]}",
    /* mnist-sparse-mlp: sparse weights + BN + k-WTA */
    "{\"name\":\"mnist-sparse-mlp\",\"input\":[1,28,28],\"layers\":["
    FLATTEN "," LIN("fc1", "1000", "0.5") "," BN("fc1_bn") ","
    KW1("fc1_kwinner", "0.1") "," LIN("output", "10", "0.0") "," SOFTMAX "]}",
};

const char *const *zs_presets(void) { return names; }

/* JSON text of a preset, or NULL. */
const char *zs_preset_json(const char *name) {
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], name)) return jsons[i];
    return NULL;
}
