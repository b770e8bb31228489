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
#define BN(name) "{\"type\":\"batchnorm\",\"name\":\"" name "\",\"affine\":false,\"momentum\":0.1,\"eps\":1e-5}"
#define POOL(name) "{\"type\":\"maxpool2d\",\"name\":\"" name "\",\"kernel\":2,\"stride\":2}"
#define LIN(name, o, sp) \
    "{\"type\":\"linear\",\"name\":\"" name "\",\"out_features\":" o ",\"bias\":true,\"sparsity\":" sp "}"
#define RELU(name) "{\"type\":\"relu\",\"name\":\"" name "\"}"
#define GSC_CLASSES \
    "\"classes\":[\"unknown\",\"silence\",\"zero\",\"one\",\"two\",\"three\",\"four\",\"five\",\"six\"," \
    "\"seven\",\"eight\",\"nine\"]"

static const char *const names[] = {"gsc-sparse", "gsc-dense", "gsc-supersparse", "gsc-sparse-fast",
                                    "gsc-block", "gsc-block-fast", "gsc-complementary",
                                    "gsc-cblock-fast", "gsc-codesigned", "mnist-mlp", "mnist-sparse-mlp", NULL};

static const char *const jsons[] = {
    /* gsc-sparse: nupic.torch GSCSparseCNN (k-WTA before max-pool) */
    "{\"name\":\"gsc-sparse\",\"input\":[1,32,32]," GSC_CLASSES ",\"layers\":["
    CONV("cnn1", "64", "0.5") "," BN("cnn1_batchnorm") "," KW("cnn1_kwinner", "0.095") "," POOL("cnn1_maxpool") ","
    CONV("cnn2", "64", "0.8") "," BN("cnn2_batchnorm") "," KW("cnn2_kwinner", "0.125") "," POOL("cnn2_maxpool") ","
    "{\"type\":\"flatten\",\"name\":\"flatten\"},"
    LIN("linear", "1000", "0.9") "," BN("linear_bn") "," KW1("linear_kwinner", "0.1") ","
    LIN("output", "12", "0.0") ",{\"type\":\"logsoftmax\",\"name\":\"softmax\"}]}",
    /* gsc-dense: the same shapes, no weight sparsity, ReLU instead of k-WTA */
    "{\"name\":\"gsc-dense\",\"input\":[1,32,32]," GSC_CLASSES ",\"layers\":["
    CONV("cnn1", "64", "0.0") "," BN("cnn1_batchnorm") "," RELU("cnn1_relu") "," POOL("cnn1_maxpool") ","
    CONV("cnn2", "64", "0.0") "," BN("cnn2_batchnorm") "," RELU("cnn2_relu") "," POOL("cnn2_maxpool") ","
    "{\"type\":\"flatten\",\"name\":\"flatten\"},"
    LIN("linear", "1000", "0.0") "," BN("linear_bn") "," RELU("linear_relu") ","
    LIN("output", "12", "0.0") ",{\"type\":\"logsoftmax\",\"name\":\"softmax\"}]}",
    /* gsc-supersparse: linear 1500 units, 95 % weights zero, k = 150 */
    "{\"name\":\"gsc-supersparse\",\"input\":[1,32,32]," GSC_CLASSES ",\"layers\":["
    CONV("cnn1", "64", "0.5") "," BN("cnn1_batchnorm") "," KW("cnn1_kwinner", "0.095") "," POOL("cnn1_maxpool") ","
    CONV("cnn2", "64", "0.8") "," BN("cnn2_batchnorm") "," KW("cnn2_kwinner", "0.125") "," POOL("cnn2_maxpool") ","
    "{\"type\":\"flatten\",\"name\":\"flatten\"},"
    LIN("linear", "1500", "0.95") "," BN("linear_bn") "," KW1("linear_kwinner", "0.1") ","
    LIN("output", "12", "0.0") ",{\"type\":\"logsoftmax\",\"name\":\"softmax\"}]}",
    /* gsc-sparse-fast: codesigned, max-pool before k-WTA (2019 paper order):
     * k = 1200 of 64x14x14 and 200 of 64x5x5 */
    "{\"name\":\"gsc-sparse-fast\",\"input\":[1,32,32]," GSC_CLASSES ",\"layers\":["
    CONV("cnn1", "64", "0.5") "," BN("cnn1_batchnorm") "," POOL("cnn1_maxpool") ","
    "{\"type\":\"kwinners2d\",\"name\":\"cnn1_kwinner\",\"k\":1200,\"k_inference_factor\":1.5,"
    "\"boost_strength\":1.5,\"boost_strength_factor\":0.9,\"duty_cycle_period\":1000,\"local\":false},"
    CONV("cnn2", "64", "0.8") "," BN("cnn2_batchnorm") "," POOL("cnn2_maxpool") ","
    "{\"type\":\"kwinners2d\",\"name\":\"cnn2_kwinner\",\"k\":200,\"k_inference_factor\":1.5,"
    "\"boost_strength\":1.5,\"boost_strength_factor\":0.9,\"duty_cycle_period\":1000,\"local\":false},"
    "{\"type\":\"flatten\",\"name\":\"flatten\"},"
    LIN("linear", "1000", "0.9") "," BN("linear_bn") "," KW1("linear_kwinner", "0.1") ","
    LIN("output", "12", "0.0") ",{\"type\":\"logsoftmax\",\"name\":\"softmax\"}]}",
    /* gsc-block: gsc-sparse with block-structured masks in conv2 and the
     * hidden linear layer: per fan-in position the kept outputs come in
     * aligned blocks of 16 (one AVX-512 vector, two AVX2 vectors) */
    "{\"name\":\"gsc-block\",\"input\":[1,32,32]," GSC_CLASSES ",\"layers\":["
    CONV("cnn1", "64", "0.5") "," BN("cnn1_batchnorm") "," KW("cnn1_kwinner", "0.095") "," POOL("cnn1_maxpool") ","
    CONVS("cnn2", "64", "0.8", BLOCK16) "," BN("cnn2_batchnorm") "," KW("cnn2_kwinner", "0.125") "," POOL("cnn2_maxpool") ","
    "{\"type\":\"flatten\",\"name\":\"flatten\"},"
    LINS("linear", "1000", "0.9", BLOCK16) "," BN("linear_bn") "," KW1("linear_kwinner", "0.1") ","
    LIN("output", "12", "0.0") ",{\"type\":\"logsoftmax\",\"name\":\"softmax\"}]}",
    /* gsc-block-fast: gsc-block in gsc-sparse-fast's order (max-pool before k-WTA) */
    "{\"name\":\"gsc-block-fast\",\"input\":[1,32,32]," GSC_CLASSES ",\"layers\":["
    CONV("cnn1", "64", "0.5") "," BN("cnn1_batchnorm") "," POOL("cnn1_maxpool") ","
    "{\"type\":\"kwinners2d\",\"name\":\"cnn1_kwinner\",\"k\":1200,\"k_inference_factor\":1.5,"
    "\"boost_strength\":1.5,\"boost_strength_factor\":0.9,\"duty_cycle_period\":1000,\"local\":false},"
    CONVS("cnn2", "64", "0.8", BLOCK16) "," BN("cnn2_batchnorm") "," POOL("cnn2_maxpool") ","
    "{\"type\":\"kwinners2d\",\"name\":\"cnn2_kwinner\",\"k\":200,\"k_inference_factor\":1.5,"
    "\"boost_strength\":1.5,\"boost_strength_factor\":0.9,\"duty_cycle_period\":1000,\"local\":false},"
    "{\"type\":\"flatten\",\"name\":\"flatten\"},"
    LINS("linear", "1000", "0.9", BLOCK16) "," BN("linear_bn") "," KW1("linear_kwinner", "0.1") ","
    LIN("output", "12", "0.0") ",{\"type\":\"logsoftmax\",\"name\":\"softmax\"}]}",
    /* gsc-complementary: complementary masks (Hunter et al. 2021): conv2
     * 75 % zeros in groups of 4 channels (64 is not a multiple of 5), the
     * hidden linear layer 90 % zeros in groups of 10 units; each fan-in
     * position is kept by exactly one unit of every group */
    "{\"name\":\"gsc-complementary\",\"input\":[1,32,32]," GSC_CLASSES ",\"layers\":["
    CONV("cnn1", "64", "0.5") "," BN("cnn1_batchnorm") "," KW("cnn1_kwinner", "0.095") "," POOL("cnn1_maxpool") ","
    CONVS("cnn2", "64", "0.75", COMPL) "," BN("cnn2_batchnorm") "," KW("cnn2_kwinner", "0.125") "," POOL("cnn2_maxpool") ","
    "{\"type\":\"flatten\",\"name\":\"flatten\"},"
    LINS("linear", "1000", "0.9", COMPL) "," BN("linear_bn") "," KW1("linear_kwinner", "0.1") ","
    LIN("output", "12", "0.0") ",{\"type\":\"logsoftmax\",\"name\":\"softmax\"}]}",
    /* gsc-cblock-fast: complementary 16-channel blocks in conv2 (75 % zeros:
     * every (ci, ky, kx) feeds exactly one of the 4 blocks, so each non-zero
     * input costs one full vector per tap), 16-unit blocks in the hidden
     * linear layer, max-pool before k-WTA */
    "{\"name\":\"gsc-cblock-fast\",\"input\":[1,32,32]," GSC_CLASSES ",\"layers\":["
    CONV("cnn1", "64", "0.5") "," BN("cnn1_batchnorm") "," POOL("cnn1_maxpool") ","
    "{\"type\":\"kwinners2d\",\"name\":\"cnn1_kwinner\",\"k\":1200,\"k_inference_factor\":1.5,"
    "\"boost_strength\":1.5,\"boost_strength_factor\":0.9,\"duty_cycle_period\":1000,\"local\":false},"
    CONVS("cnn2", "64", "0.75", CBLOCK16) "," BN("cnn2_batchnorm") "," POOL("cnn2_maxpool") ","
    "{\"type\":\"kwinners2d\",\"name\":\"cnn2_kwinner\",\"k\":200,\"k_inference_factor\":1.5,"
    "\"boost_strength\":1.5,\"boost_strength_factor\":0.9,\"duty_cycle_period\":1000,\"local\":false},"
    "{\"type\":\"flatten\",\"name\":\"flatten\"},"
    LINS("linear", "1000", "0.9", BLOCK16) "," BN("linear_bn") "," KW1("linear_kwinner", "0.1") ","
    LIN("output", "12", "0.0") ",{\"type\":\"logsoftmax\",\"name\":\"softmax\"}]}",
    /* gsc-codesigned: the shipped codesigned network (issue 10; chosen by
     * measurement, docs/BENCHMARKS.md "Codesigned networks"): gsc-cblock-fast
     * with the hidden linear layer at 96 % zeros (16-unit blocks), so the
     * packed file is >= 10x smaller than gsc-dense's */
    "{\"name\":\"gsc-codesigned\",\"input\":[1,32,32]," GSC_CLASSES ",\"layers\":["
    CONV("cnn1", "64", "0.5") "," BN("cnn1_batchnorm") "," POOL("cnn1_maxpool") ","
    "{\"type\":\"kwinners2d\",\"name\":\"cnn1_kwinner\",\"k\":1200,\"k_inference_factor\":1.5,"
    "\"boost_strength\":1.5,\"boost_strength_factor\":0.9,\"duty_cycle_period\":1000,\"local\":false},"
    CONVS("cnn2", "64", "0.75", CBLOCK16) "," BN("cnn2_batchnorm") "," POOL("cnn2_maxpool") ","
    "{\"type\":\"kwinners2d\",\"name\":\"cnn2_kwinner\",\"k\":200,\"k_inference_factor\":1.5,"
    "\"boost_strength\":1.5,\"boost_strength_factor\":0.9,\"duty_cycle_period\":1000,\"local\":false},"
    "{\"type\":\"flatten\",\"name\":\"flatten\"},"
    LINS("linear", "1000", "0.96", BLOCK16) "," BN("linear_bn") "," KW1("linear_kwinner", "0.1") ","
    LIN("output", "12", "0.0") ",{\"type\":\"logsoftmax\",\"name\":\"softmax\"}]}",
    /* mnist-mlp: 28x28 images, dense */
    "{\"name\":\"mnist-mlp\",\"input\":[1,28,28],\"layers\":["
    "{\"type\":\"flatten\",\"name\":\"flatten\"}," LIN("fc1", "512", "0.0") "," RELU("fc1_relu") ","
    LIN("output", "10", "0.0") ",{\"type\":\"logsoftmax\",\"name\":\"softmax\"}]}",
    /* mnist-sparse-mlp: sparse weights + BN + k-WTA */
    "{\"name\":\"mnist-sparse-mlp\",\"input\":[1,28,28],\"layers\":["
    "{\"type\":\"flatten\",\"name\":\"flatten\"}," LIN("fc1", "1000", "0.5") "," BN("fc1_bn") ","
    KW1("fc1_kwinner", "0.1") "," LIN("output", "10", "0.0") ",{\"type\":\"logsoftmax\",\"name\":\"softmax\"}]}",
};

const char *const *zs_presets(void) { return names; }

/* JSON text of a preset, or NULL. */
const char *zs_preset_json(const char *name) {
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], name)) return jsons[i];
    return NULL;
}
