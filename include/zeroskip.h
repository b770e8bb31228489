/*
 * zeroskip.h — the one public header of libzeroskip.
 *
 * zeroskip trains and runs sparse-sparse neural networks: sparse weights
 * (a fixed random mask per output unit) times sparse activations (k-winners-
 * take-all), with kernels that skip zeros on both sides.
 *
 * What this header is: the manual. Every function states what it returns,
 * who owns what and whether it is thread-safe.
 * What it is not: a general tensor library. Networks are sequences of the
 * layers listed in zs_layer_type, batch-first, NCHW, float32.
 *
 * Conventions
 *  - Every fallible call returns zs_status. ZS_OK (0) is success; on any
 *    other value nothing was half-done (outputs untouched or freed) and
 *    zs_last_error() holds a message naming the problem.
 *  - Objects are opaque handles with create/free; every free accepts NULL.
 *  - Thread safety: distinct handles may be used from distinct threads at the
 *    same time; one handle must not be used by two threads at once unless the
 *    function says so. The library keeps no global mutable state except the
 *    CPU-feature cache (written once, race-free) and the per-thread error text.
 *  - Dimension letters: N batch, C channels, H height, W width, K classes.
 */
#ifndef ZEROSKIP_H
#define ZEROSKIP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZS_VERSION_MAJOR 0
#define ZS_VERSION_MINOR 1
#define ZS_VERSION_PATCH 0
#define ZS_VERSION_STRING "0.1.0"
/* Returns ZS_VERSION_STRING of the library actually linked. */
const char *zs_version(void);

/* ---- status ------------------------------------------------------------ */
typedef enum zs_status {
    ZS_OK = 0,
    ZS_EINVAL = 1,       /* bad argument from the caller                    */
    ZS_ENOMEM = 2,       /* allocation failed                               */
    ZS_EIO = 3,          /* open/read/write/rename failed                   */
    ZS_EFORMAT = 4,      /* malformed file or JSON                          */
    ZS_ESHAPE = 5,       /* tensor shape or size mismatch                   */
    ZS_EUNSUPPORTED = 6, /* valid request this build cannot do              */
    ZS_ENUMERIC = 7,     /* NaN or Inf in weights, inputs or outputs        */
    ZS_ELIMIT = 8        /* declared size beyond a documented limit         */
} zs_status;

/* Stable name of a status ("ZS_EFORMAT"); never NULL. */
const char *zs_status_str(zs_status s);
/* Message of the last failing call on this thread ("" if none). The pointer
 * stays valid until the next failing call on the same thread. */
const char *zs_last_error(void);
/* Record a printf-style message as this thread's zs_last_error() and return
 * `st`: lets a program built on the library report its own failures through
 * the same channel (the zeroskip command does). Thread-safe. */
zs_status zs_set_error(zs_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- limits (loaders refuse anything larger, with ZS_ELIMIT) ------------ */
#define ZS_MAX_HEADER_BYTES (16u << 20)  /* safetensors JSON header          */
#define ZS_MAX_TENSORS 4096              /* tensors in one file              */
#define ZS_MAX_ELEMENTS (1ull << 32)     /* elements in one tensor           */
#define ZS_MAX_LAYERS 256
#ifndef ZS_MAX_PARAMS                    /* (the fuzz build lowers it)      */
#define ZS_MAX_PARAMS (1ull << 28)       /* parameters of one network       */
#endif
#define ZS_MAX_CLASSES 1024

/* ---- CPU features and kernel dispatch ---------------------------------- */
typedef enum zs_isa { ZS_ISA_SCALAR = 0, ZS_ISA_AVX2 = 1, ZS_ISA_AVX512 = 2 } zs_isa;
/* Best ISA this CPU supports, lowered by the environment variable
 * ZS_ISA=scalar|avx2|avx512 (a request above what the CPU has is clamped to
 * the CPU, never obeyed blindly). Thread-safe. */
zs_isa zs_isa_active(void);
/* Best ISA the CPU supports, ignoring ZS_ISA. Thread-safe. */
zs_isa zs_isa_cpu(void);
/* "scalar", "avx2", "avx512". */
const char *zs_isa_name(zs_isa isa);

/* Threads the dense GEMM (oneDNN, OpenMP) may use for calls made from the
 * calling thread (OpenMP semantics: a per-thread setting; the default is
 * OMP_NUM_THREADS or all cores). Sparse kernels are single-threaded per
 * call; run networks in parallel from your own threads. */
void zs_set_threads(int n);
/* The kernel families and the version of each that zs_isa_active() selects
 * (what `zeroskip info --kernels` prints), written to `f`. Thread-safe. */
void zs_kernels_describe(FILE *f);
/* Measured peak of one core with the kernels of `isa` (clamped to the CPU):
 * fp32 GFLOP/s of a short loop of independent FMAs (2 FLOPs per
 * multiply-add; about 20 ms, measured on the first call per ISA and cached).
 * Scalar: mul+add without vectors. Thread-safe. */
double zs_cpu_peak_gflops(zs_isa isa);
/* Measured rate of one streaming pass on one core with `isa`: GB/s of a
 * vector max-reduction over a 256 KiB buffer (L2-resident, as the
 * activation maps of one sample are); measured once per ISA and cached.
 * It is the floor used for select/pool/copy stages by `zeroskip bench
 * --profile`. Thread-safe. */
double zs_cpu_stream_gbps(zs_isa isa);

/* ---- networks ---------------------------------------------------------- */
typedef struct zs_net zs_net;

typedef enum zs_layer_type {
    ZS_CONV2D = 1,
    ZS_LINEAR = 2,
    ZS_MAXPOOL2D = 3,
    ZS_RELU = 4,
    ZS_FLATTEN = 5,
    ZS_BATCHNORM = 6,   /* 1d or 2d: normalises over N (and H, W) per C */
    ZS_DROPOUT = 7,
    ZS_KWINNERS = 8,    /* k-WTA over a vector (per sample)            */
    ZS_KWINNERS2D = 9,  /* k-WTA over a feature map, global or local    */
    ZS_LOGSOFTMAX = 10
} zs_layer_type;

/* Build a network from a preset name: "gsc-sparse", "gsc-dense",
 * "gsc-supersparse", "gsc-sparse-fast", "mnist-mlp", "mnist-sparse-mlp".
 * Weights are initialised as PyTorch does (kaiming-uniform, a=sqrt(5)) from
 * a RNG seeded with `seed`; masks come from the same RNG. On success *out
 * owns a new network (free with zs_net_free). */
zs_status zs_net_create_preset(zs_net **out, const char *preset, uint64_t seed);
/* Same, from a JSON architecture description (see docs/ARCHITECTURE.md). */
zs_status zs_net_create_json(zs_net **out, const char *json, uint64_t seed);
/* Names of the presets, NULL-terminated; static storage. */
const char *const *zs_presets(void);
void zs_net_free(zs_net *net);

/* Write the network (architecture, labels, weights, masks, BN statistics,
 * duty cycles, boost state) to a safetensors file. Atomic: writes a new
 * PATH.tmp.<pid>.<n>, fsyncs, renames it over PATH; on failure PATH is
 * untouched. The file keeps the mode of the regular file it replaces, else
 * gets 0666 minus the umask; through a symbolic link the file it points to
 * is replaced, not the link. A PATH that is a directory, device or FIFO is
 * refused (ZS_EIO). */
zs_status zs_net_save(const zs_net *net, const char *path);
/* Like zs_net_save, plus what resuming training needs (SGD momentum, epochs
 * done, shuffling RNG): zs_train on a network loaded from a checkpoint
 * continues exactly where the checkpointed run was. */
zs_status zs_net_save_checkpoint(const zs_net *net, const char *path);
/* Load a safetensors model written by zs_net_save or by scripts/export_torch.py.
 * Validates everything (see docs/ARCHITECTURE.md); no partial network on error. */
zs_status zs_net_load(zs_net **out, const char *path);
/* Same from memory (used by the fuzzers); `data` is not retained. */
zs_status zs_net_load_mem(zs_net **out, const void *data, size_t size);

/* Per-sample input shape (C, H, W) and the number of classes (outputs). */
void zs_net_input_shape(const zs_net *net, int *c, int *h, int *w);
int zs_net_num_classes(const zs_net *net);
/* Class label i (0 <= i < num_classes), or NULL. Owned by the network. */
const char *zs_net_class_name(const zs_net *net, int i);
/* Replace class labels: n must equal zs_net_num_classes. Copies the strings.
 * ZS_EINVAL for a name over 255 bytes or holding a control character
 * (byte < 0x20 or 0x7f); model files with such names are refused too. */
zs_status zs_net_set_class_names(zs_net *net, int n, const char *const *names);
/* Name of the architecture (preset name or "custom"). Owned by the network. */
const char *zs_net_arch_name(const zs_net *net);

/* Human-readable description (layers, shapes, sparsity, k, parameters,
 * non-zeros, bytes) written to `f`. */
zs_status zs_net_describe(const zs_net *net, FILE *f);

typedef struct zs_layer_info {
    zs_layer_type type;
    const char *name;        /* owned by the network                          */
    int in_c, in_h, in_w;    /* per-sample input shape (vectors: C=n, H=W=1)  */
    int out_c, out_h, out_w; /* per-sample output shape                       */
    int64_t params;          /* weights + biases (0 for parameter-free)       */
    int64_t nonzeros;        /* unmasked weights + biases                     */
    int64_t weights;         /* weights (no biases)                           */
    int64_t weight_nonzeros; /* unmasked weights                              */
    float weight_sparsity;   /* fraction of weights masked to zero            */
    int k, k_inference;      /* k-WTA only                                    */
    int local;               /* k-WTA2d only: 1 local, 0 global               */
    float boost_strength;    /* k-WTA only, current value                     */
} zs_layer_info;
int zs_net_num_layers(const zs_net *net);
/* Fill *info for layer i; ZS_EINVAL if i is out of range. */
zs_status zs_net_layer_info(const zs_net *net, int i, zs_layer_info *info);

/* Evaluation-mode inference on n samples laid out (n, C, H, W). Writes
 * log-probabilities (n, K) to `logprob`. Uses the fastest kernels for this
 * CPU unless `dense` kernels were forced by zs_net_set_dense(). Not
 * thread-safe per network (it uses the network's activation buffers);
 * distinct networks may run in parallel. Returns ZS_ENUMERIC if an input or
 * output is NaN/Inf. */
zs_status zs_net_infer(zs_net *net, const float *x, int n, float *logprob);
/* An executor: the per-sample scratch (activation, list and selection
 * buffers) a network's inference plan runs in, apart from the network's
 * weights. zs_net_infer uses the network's own; one executor may serve any
 * number of networks, one call at a time (e.g. one executor per thread:
 * twenty networks served by one thread share one scratch instead of
 * holding twenty). It grows to the largest plan it has run (zs_exec_bytes). */
typedef struct zs_exec zs_exec;
zs_status zs_exec_create(zs_exec **out);
void zs_exec_free(zs_exec *e);              /* NULL-safe */
size_t zs_exec_bytes(const zs_exec *e);     /* bytes it holds now */
/* zs_net_infer in executor e's scratch (NULL: the network's own). The same
 * outputs as zs_net_infer. Not thread-safe per network or per executor. */
zs_status zs_net_infer_with(zs_net *net, zs_exec *e, const float *x, int n, float *logprob);
/* Build the network's inference plan now and finish its kernel choice on
 * the one sample x (C, H, W), in executor e's scratch (NULL: the
 * network's own): the plan times its kernel alternatives on whole samples
 * (a second forward pass per sample for its first ~100 samples, src/
 * kernels/plan.c) and keeps the fastest on this CPU; after this call the
 * first zs_net_infer calls run at full speed. Optional (inference does the
 * same on the samples it serves); changes no answer. A no-op for a network
 * forced dense or without a fast plan. Not thread-safe per network or per
 * executor. */
zs_status zs_net_prepare(zs_net *net, zs_exec *e, const float *x);
/* 1: run inference through the dense (im2col + GEMM) path even where the
 * network is sparse; 0 (default): sparse-sparse kernels where they apply. */
void zs_net_set_dense(zs_net *net, int dense);
/* 1: the inference plan runs its sparse-input conv stages (gsc-sparse:
 * conv2) in integers: weights int8, one scale per output channel (max |w| /
 * 127, BatchNorm folded in first); each sample's inputs u8, one scale per
 * sample (max / 255, negatives 0); exact integer sums (AVX-512 VNNI:
 * vpdpbusd on 4-channel groups where it measures faster; else fp32 FMAs on
 * the integer values, which are exact below 2^24, so every ISA gives the
 * same bits), scaled back to fp32 with the bias. k-WTA and every other
 * layer stay fp32. Smaller (conv2: 102 KB instead of 410 KB) and faster
 * where measured (docs/BENCHMARKS.md), but no longer exact: answers and
 * winner sets can differ from the fp32 reference path (top-1 agreement:
 * docs/RESULTS.md). A layer whose sums could reach 2^24 keeps fp32 inputs
 * (int8 weights only). 0 (default): the exact fp32 plan. Takes effect at
 * the next inference (the plan is rebuilt); the model (weights, training)
 * is unchanged. */
void zs_net_set_int8_weights(zs_net *net, int on);

/* ---- introspection and measurement (used by `zeroskip info`/`bench`) --- */
/* The inference plan zs_net_infer runs (stages, shapes, kernels), built now
 * if it is not yet, written to `f`. ZS_EUNSUPPORTED (message says why)
 * when there is no fast plan: the reference path (im2col + GEMM) runs,
 * as it does for a network forced dense. */
zs_status zs_net_plan_describe(zs_net *net, FILE *f);

/* Multiply-adds of one conv/linear layer per sample. */
typedef struct zs_layer_cost {
    const char *name;        /* layer name, owned by the network              */
    zs_layer_type type;      /* ZS_CONV2D or ZS_LINEAR                        */
    double macs;             /* useful: products of a non-zero input and a
                                kept weight landing on a valid output, mean
                                over the samples (every product when the
                                network is forced dense)                     */
    double dense_macs;       /* every product of the dense-shaped layer       */
    double input_nonzero;    /* fraction of the layer's inputs that are
                                non-zero (1 when forced dense)               */
} zs_layer_cost;
/* Count the multiply-adds of every conv/linear layer (in order) on n >= 1
 * samples x (n, C, H, W), running the reference path in eval mode (the
 * same winners as zs_net_infer). Fills out[0 .. min(*count, max)) and sets
 * *count to the number of conv/linear layers. Uses the network's
 * activation buffers: not thread-safe per network. */
zs_status zs_net_cost(zs_net *net, const float *x, int n, zs_layer_cost *out, int max, int *count);

/* One stage of the inference plan, timed. */
typedef struct zs_stage_profile {
    const char *name;        /* stage kind ("conv_sparse", "kwta_pool", ...),
                                static storage                               */
    const char *layer;       /* the (first) layer it implements, owned by the
                                network (valid until it is freed)            */
    const char *kernel;      /* the kernel(s) it runs, static storage         */
    double us_per_word;      /* mean wall time per sample, microseconds (preempted samples dropped) */
    double macs_per_word;    /* useful multiply-adds per sample (conv/linear
                                stages, as zs_net_cost counts them), else 0  */
    double bytes_per_word;   /* bytes of the stage's input map per sample: one
                                streaming pass over it is its floor when it
                                does no multiply-adds ("conv_kwta_pool": its
                                conv output map, which its k-WTA passes over) */
} zs_stage_profile;
/* Run n >= 1 samples x (n, C, H, W) `reps` >= 1 times stage by stage through
 * the inference plan (built now if needed) and fill out[0 .. min(*count,
 * max)); *count = number of stages. ZS_EUNSUPPORTED when there is no fast
 * plan (forced dense or unsupported architecture). Not thread-safe per
 * network. */
zs_status zs_net_profile(zs_net *net, const float *x, int n, int reps, zs_stage_profile *out, int max,
                         int *count);

/* Bytes the network really holds in memory, the allocator's sizes of its
 * blocks: *model_bytes = the model (a loaded model: sparse layers packed as
 * kept values + indices, other weights, biases, BatchNorm and k-WTA state;
 * dense weights, masks, gradients and momenta only once training, learning
 * or the reference path has needed them); *plan_bytes = the inference plan
 * (kept weights in the kernels' layouts with BatchNorm folded in, boost
 * factors), built now if needed, 0 when there is none (forced dense or
 * unsupported). Per-sample buffers live in an executor (zs_exec) and are
 * not counted, as activations of the reference path are not; either
 * pointer may be NULL. */
zs_status zs_net_memory(zs_net *net, size_t *plan_bytes, size_t *model_bytes);
/* Bytes of executor scratch the network's plan needs to run (built now if
 * needed; 0 when there is no plan): what one zs_exec serving it holds. */
zs_status zs_net_scratch_bytes(zs_net *net, size_t *bytes);

/* ---- training ---------------------------------------------------------- */
typedef struct zs_sgd {
    float lr;            /* learning rate                                     */
    float momentum;      /* PyTorch SGD momentum (0 disables)                 */
    float weight_decay;  /* L2, added to the gradient as PyTorch does         */
} zs_sgd;

/* One optimisation step in training mode: forward, NLL loss (mean over the
 * batch), backward, SGD update, masks re-applied, duty cycles updated.
 * `loss` and `correct` (number of argmax hits) may be NULL. */
zs_status zs_net_train_step(zs_net *net, const float *x, const int32_t *y, int n,
                            const zs_sgd *opt, float *loss, int *correct);
/* End of an epoch: multiplies every k-WTA boost strength by its
 * boost_strength_factor. */
void zs_net_epoch_end(zs_net *net);
/* Epochs zs_train has completed on this network (restored from a
 * checkpoint; 0 for a new network or a model saved by zs_net_save). */
int zs_net_epochs_done(const zs_net *net);

typedef struct zs_train_opts {
    int epochs;            /* default 1                                        */
    int batch;             /* default 16                                       */
    int first_epoch_batch; /* batch for epoch 0 (nupic uses 4..16); 0 = batch  */
    float lr;              /* default 0.01                                     */
    float momentum;        /* default 0.0                                      */
    float weight_decay;    /* default 0.01                                     */
    float lr_gamma;        /* lr *= gamma every lr_step epochs; default 0.9    */
    int lr_step;           /* default 1                                        */
    uint64_t seed;         /* shuffling and dropout; default 42                */
    int verbose;           /* 1: progress bar and per-epoch line on stderr     */
    const char *csv_path;  /* optional: epoch,loss,train_acc,val_acc,lr,secs   */
    const char *checkpoint_path; /* optional: zs_net_save_checkpoint after each epoch */
    int max_samples;       /* > 0: each epoch uses only this many (shuffled)   */
} zs_train_opts;
/* Defaults as documented above. */
zs_train_opts zs_train_defaults(void);

/* ---- learning while serving (src/learn.c) ------------------------------ */
typedef struct zs_learn_opts {
    float lr;            /* SGD step; default 0.01                             */
    int layers;          /* linear layers that learn, counted from the output;
                            default 2 (hidden + output of the GSC models)       */
    float weight_decay;  /* L2 on the rows that learn; default 0               */
    int update_duty;     /* 1 (default): update the duty cycles of the k-WTA
                            layers that learn                                  */
    int only_class;      /* >= 0: only this output's weights and bias learn
                            (needs layers = 1): every other class's logits stay
                            exactly as they were; -1 (default): all           */
} zs_learn_opts;
/* Defaults as documented above. */
zs_learn_opts zs_learn_defaults(void);
/* Online learning on n (>= 1, <= 4096) samples: a forward in evaluation mode
 * (the activations serving sees), the gradient of the mean NLL through the
 * top opts->layers linear layers only — a k-WTA passes it to its winners,
 * so a sparse layer below one learns at (winner rows) x (non-zero inputs) x
 * (kept weights) — plain SGD there, and the duty-cycle update of the k-WTA
 * layers among them. Convolutions and all BatchNorm statistics stay frozen.
 * ZS_EUNSUPPORTED if a conv/max-pool/affine BatchNorm/local k-WTA lies
 * within the top opts->layers linear layers. `loss` (may be NULL) gets the
 * mean NLL before the update. Not thread-safe per network; the next
 * zs_net_infer repacks the weights. */
zs_status zs_net_learn(zs_net *net, const float *x, const int32_t *y, int n, const zs_learn_opts *opts,
                       float *loss);
/* Grow the output layer (the last linear) by one class named `name` (new,
 * 1..255 bytes), keeping every old class's weights, masks, statistics and
 * duty cycles. With n > 0 examples x (n, C, H, W) the new row is imprinted:
 * the mean of the examples' unit-normalised inputs to the output layer,
 * scaled to the old rows' mean norm, bias = the old biases' mean; with
 * n = 0 (x may be NULL) it gets a fresh kaiming-uniform init. The handle
 * stays valid; on failure the network is unchanged. */
zs_status zs_net_add_class(zs_net *net, const char *name, const float *x, int n);
/* Keyword enrollment's fit of one output row (src/learn.c, docs/CONTINUAL.md). */
typedef struct zs_fit_class_opts {
    int iters;         /* full-batch gradient steps; default 300               */
    float lr;          /* step size; default 0.5                               */
    float l2;          /* pull towards the row as it was (the imprint); 0.03   */
    float old_weight;  /* share of the negatives' loss on old-class examples
                          (the rest on the y = -1 ones); default 0.5          */
    float recall;      /* the bias lets about this fraction of the positives'
                          cross-validated scores through; default 0.99        */
    int folds;         /* cross-validation folds over the positives' groups;
                          default 5; < 2: the fitted bias instead             */
    float max_old;     /* cap: at most floor(max_old x n_cal) of the n_cal
                          calibration examples the network classifies right
                          are called k afterwards; default 0.003; < 0: none  */
} zs_fit_class_opts;
/* Defaults as documented above. */
zs_fit_class_opts zs_fit_class_defaults(void);
typedef struct zs_fit_class_report {
    float bias;          /* the new bias of row k                              */
    float bias_recall;   /* the bias the recall target asked for               */
    float bias_cap;      /* the highest bias the cap allows (+inf: no cap)     */
    int n_cal;           /* calibration examples classified right before       */
    int cal_called;      /* of them, called k after                            */
    int pos_called;      /* positives called k after                           */
    int neg_called;      /* y = -1 examples called k after                     */
} zs_fit_class_report;
/* Fit output row k (only it: every other class's weights, bias and logits
 * stay exactly as they were) on n examples x (n, C, H, W) with y[i] = k (a
 * positive; group[i] names its source clip for the cross-validation, NULL:
 * each its own), -1 (any other sound) or another class (an example of it);
 * the last two are learned against. The row's inputs (the output layer's
 * inputs, eval mode) are computed once; the row and bias then minimise a
 * weighted logistic loss on w.h + b - max_{j!=k} z_j (positives weigh as
 * much as all negatives together) plus l2/2 |w - w0|^2. Its bias is then
 * min(bias_recall, bias_cap): bias_recall lets `recall` of the positives'
 * out-of-fold margins through; bias_cap keeps the cap on the nc calibration
 * examples xc (labels yc, classes other than k; NULL / 0: no cap), which
 * should be others than those learned against, with a 1e-3 safety margin.
 * `rep` may be NULL. On failure the network is unchanged. */
zs_status zs_net_fit_class(zs_net *net, int k, const float *x, const int32_t *y, const int32_t *group, int n,
                           const float *xc, const int32_t *yc, int nc, const zs_fit_class_opts *opts,
                           zs_fit_class_report *rep);
/* A deep copy (architecture, labels, weights, masks, BatchNorm statistics,
 * duty cycles, boost state, momenta, step count, the dense and int8-path
 * settings) into a new network: what a
 * server publishes as an immutable snapshot while it learns on the
 * original. Without momenta in `src` the copy is held as a loaded model is
 * (sparse layers packed; a packed source's arrays are copied as they are).
 * When `src` has an inference plan whose kernels it has measured, the copy
 * gets its plan now, built with those choices: it answers at once, with
 * the same kernels and bits, measuring nothing. `src` is only read, so several
 * threads may clone it at once while nobody modifies it. */
zs_status zs_net_clone(const zs_net *src, zs_net **out);

/* ---- continual-learning MLP (src/dendrite.c, docs/CONTINUAL.md) --------
 * A small multilayer perceptron for forgetting experiments: `layers` hidden
 * layers of `hidden` units, dense or sparse (weight_sparsity: a fixed
 * random fraction of each unit's weights kept at 0), ReLU or k-WTA
 * (percent_on > 0: the k = percent_on * hidden largest outputs survive),
 * optionally with active dendrites (segments > 0; Iyer et al. 2022): every
 * hidden unit's output is (w.x + b) * sigmoid(d), d the segment response
 * u_s . context of largest magnitude among its `segments` segments; a
 * linear output of `classes`; softmax cross-entropy; plain SGD or Adam
 * (adam = 1: beta 0.9 / 0.999, eps 1e-8; lazy on the dendritic segments:
 * only segments with a gradient move); optional
 * synaptic intelligence (si_c > 0; Zenke et al. 2017) on the feed-forward
 * weights and biases (not on the dendritic segments). Not thread-safe per
 * object. */
typedef struct zs_cl_opts {
    int inputs, hidden, layers, classes;  /* 784, 512, 2, 10              */
    float weight_sparsity;                /* 0 (dense)                     */
    float percent_on;                     /* 0 (ReLU)                      */
    int segments;                         /* 0 (no dendrites)              */
    int context;                          /* context length; 0 = inputs    */
    float si_c, si_xi;                    /* SI strength (0: off), damping 0.1 */
    int adam;                             /* 0: plain SGD; 1: Adam         */
    uint64_t seed;                        /* weights and masks; 1          */
} zs_cl_opts;
typedef struct zs_cl zs_cl;
zs_cl_opts zs_cl_defaults(void);
zs_status zs_cl_create(zs_cl **out, const zs_cl_opts *opts);
void zs_cl_free(zs_cl *m);
/* One SGD (or Adam) step on n samples x (n, inputs) with labels y, all under one
 * context ctx (context floats; NULL without dendrites). `loss` (may be
 * NULL) gets the mean cross-entropy before the step. */
zs_status zs_cl_train_step(zs_cl *m, const float *x, const int32_t *y, int n, const float *ctx, float lr,
                           float *loss);
/* Logits (n, classes) of n samples; sample s uses context ctx[cid[s]] of
 * the P contexts ctx (P, context) (cid NULL: context 0; ctx NULL and P = 0
 * without dendrites). */
zs_status zs_cl_infer(zs_cl *m, const float *x, int n, const float *ctx, int P, const int32_t *cid,
                      float *logits);
/* Restrict the loss of the following train steps to the classes with
 * active[k] != 0 (`classes` flags; a task-masked output head: the softmax
 * runs over those classes only and the other classes' logits get no
 * gradient; every label must be active). NULL: all classes (the default). */
zs_status zs_cl_set_classes(zs_cl *m, const uint8_t *active);
/* End of a task: synaptic intelligence consolidates (importance update,
 * new anchor); a no-op without SI. */
void zs_cl_task_end(zs_cl *m);

typedef struct zs_dataset zs_dataset;
typedef struct zs_eval_result {
    int n, correct;
    double loss;               /* mean NLL                                    */
    int num_classes;
    int64_t *confusion;        /* (K, K): row = true label, col = predicted;
                                  owned by the result, free with zs_eval_free */
    int32_t *pred;             /* (n) predicted class per sample (owned)      */
    float *confidence;         /* (n) probability of the prediction (owned)   */
} zs_eval_result;

/* Train `net` on `train`, reporting accuracy on `val` (may be NULL) after
 * each epoch, until it has completed opts->epochs epochs in all: a network
 * loaded from a checkpoint resumes at the epoch after the checkpoint, with
 * its saved shuffling RNG, and ends bit-identical to an uninterrupted run.
 * Deterministic: same seed, build and ISA give bit-identical weights. */
zs_status zs_train(zs_net *net, const zs_dataset *train, const zs_dataset *val,
                   const zs_train_opts *opts);
/* Evaluate in inference mode. On success *res must be freed with zs_eval_free. */
zs_status zs_eval(zs_net *net, const zs_dataset *data, zs_eval_result *res);
void zs_eval_free(zs_eval_result *res);

/* ---- data sets --------------------------------------------------------- */
/* A data set is N >= 1 samples of (C, H, W) float32 features plus int32
 * labels and optional class names. On disk: a safetensors file with tensors
 * "features" F32 [N, C, H, W] (or [N, H, W], or [N, D]) and "labels" I32
 * [N] (I64 and U8 are converted); __metadata__ may hold "classes" (a JSON
 * array of strings). Labels must lie in [0, K); NaN/Inf features are refused
 * with ZS_ENUMERIC. zs_dataset_load also accepts an IDX
 * image file (optionally .gz) whose labels file is found by replacing
 * "images-idx3" with "labels-idx1" in the name (MNIST / Fashion-MNIST);
 * pixels are scaled to [0, 1]. */
zs_status zs_dataset_load(zs_dataset **out, const char *path);
zs_status zs_dataset_load_mem(zs_dataset **out, const void *data, size_t size);
/* Create an empty data set of n samples of shape (c, h, w) with zeroed
 * features and labels, to be filled through the accessors below. */
zs_status zs_dataset_create(zs_dataset **out, int n, int c, int h, int w);
zs_status zs_dataset_save(const zs_dataset *ds, const char *path); /* atomic */
void zs_dataset_free(zs_dataset *ds);
int zs_dataset_size(const zs_dataset *ds);
void zs_dataset_shape(const zs_dataset *ds, int *c, int *h, int *w);
float *zs_dataset_features(zs_dataset *ds);      /* (N, C, H, W), owned */
int32_t *zs_dataset_labels(zs_dataset *ds);      /* (N), owned           */
const float *zs_dataset_features_const(const zs_dataset *ds);
const int32_t *zs_dataset_labels_const(const zs_dataset *ds);
int zs_dataset_num_classes(const zs_dataset *ds); /* names given, else max label + 1 */
const char *zs_dataset_class_name(const zs_dataset *ds, int i); /* or NULL */
/* n = 0 clears the names; names must cover every label present. */
zs_status zs_dataset_set_class_names(zs_dataset *ds, int n, const char *const *names);

/* ---- audio front end (see docs/ARCHITECTURE.md, "Audio") --------------- */
#define ZS_SAMPLE_RATE 16000
#define ZS_CLIP_SAMPLES 16000
#define ZS_N_MELS 32
#define ZS_N_FRAMES 32
/* Read any file libsndfile can (WAV, FLAC, OGG, ...), mix to mono and
 * resample to `rate` Hz with libsamplerate (best sinc). On success *samples
 * is malloc'ed (caller frees) and holds *n samples in [-1, 1]. `max_seconds`
 * > 0 refuses longer files with ZS_ELIMIT. */
zs_status zs_audio_load(const char *path, int rate, double max_seconds,
                        float **samples, size_t *n);
/* Resample mono audio; *out malloc'ed (caller frees). */
zs_status zs_audio_resample(const float *in, size_t n_in, int rate_in,
                            int rate_out, float **out, size_t *n_out);

/* Log-mel front end: plans are made once per object; not thread-safe per
 * object, create one per thread. */
typedef struct zs_frontend zs_frontend;
zs_status zs_frontend_create(zs_frontend **out);
void zs_frontend_free(zs_frontend *fe);
/* One clip of exactly ZS_CLIP_SAMPLES at 16 kHz (pad/cut beforehand with
 * zs_clip_fit) to a (ZS_N_MELS, ZS_N_FRAMES) log-mel image, row-major
 * (mel band, frame), as nupic.torch's GSC example computes it. */
zs_status zs_frontend_logmel(zs_frontend *fe, const float *clip, float *out);
/* Copy n samples into a clip of ZS_CLIP_SAMPLES: zero-padded at the end or cut. */
void zs_clip_fit(const float *in, size_t n, float *clip);
/* The clip the data sets are built from (and listen uses): the speech
 * (10 ms frames within 40 dB of the loudest) centred in the second, or the
 * loudest second of longer speech; zeros elsewhere. */
void zs_clip_fit_centred(const float *in, size_t n, float *clip);
/* Paper's noise: x' = (1 - alpha) x + alpha u, u ~ U(-1, 1) from `seed`. */
void zs_add_noise(float *x, size_t n, float alpha, uint64_t seed);

/* Incremental reader: any file libsndfile reads ("-" for stdin, where
 * libsndfile reads WAV/AU/raw from a pipe; "/dev/fd/N" for another open
 * descriptor), mixed to mono and resampled to `rate` with libsamplerate
 * (best sinc) chunk by chunk, so arbitrarily long recordings and live input
 * use constant memory. raw_rate > 0 reads headerless signed 16-bit
 * little-endian mono PCM at raw_rate Hz instead. Not thread-safe per
 * stream. */
typedef struct zs_audio_stream zs_audio_stream;
zs_status zs_audio_stream_open(zs_audio_stream **out, const char *path, int raw_rate, int rate);
/* Read up to `max` samples into buf. *got == 0 means the end. */
zs_status zs_audio_stream_read(zs_audio_stream *s, float *buf, size_t max, size_t *got);
/* Sample rate and channel count of the source. */
int zs_audio_stream_source_rate(const zs_audio_stream *s);
int zs_audio_stream_source_channels(const zs_audio_stream *s);
void zs_audio_stream_close(zs_audio_stream *s);

/* ---- keyword spotting in a stream (`zeroskip listen --stream`) --------- */
/* A 1 s window slides over 16 kHz audio by hop_s; each window is classified
 * (zs_frontend_logmel + zs_net_infer); posteriors are smoothed by a centred
 * moving average over `smooth` windows; a window is a detection when its
 * best word class (any label but silence/unknown/background_noise) has
 * smoothed probability > threshold; consecutive detections of one word
 * merge into one zs_detection. The last window may run past the end of the
 * audio and is zero-padded, as training clips are.
 * Word finding (src/scanner.c has the details; 0 turns each off): gate_db
 * gates windows whose loudest 10 ms is not gate_db above the tracked noise
 * floor (they are `silence`); centre re-cuts each window centred on its
 * word, as training clips are, and a window whose word is cut by its edge
 * gets no vote; min_gap_s makes a run of hits one detection (label: the
 * word of largest summed probability) and merges detections of one word
 * closer than min_gap_s. */
typedef struct zs_scan_opts {
    double hop_s;        /* seconds between windows, [0.01, 1]; default 0.1  */
    int smooth;          /* windows averaged (centred), [1, 100]; default 3  */
    double threshold;    /* smoothed probability to exceed; default 0.5      */
    double gate_db;      /* [0, 60]; default 10                              */
    int centre;          /* 0 or 1; default 1                                */
    double min_gap_s;    /* [0, 10]; default 0.3                             */
} zs_scan_opts;
zs_scan_opts zs_scan_defaults(void);
typedef struct zs_detection {
    double start_s, end_s; /* end is clamped to the audio's end once known   */
    int label;             /* class index (zs_net_class_name)                */
    float confidence;      /* highest smoothed probability of the run        */
} zs_detection;
/* 1 unless the label is silence/unknown/background_noise (any case,
 * surrounding '_' ignored) or NULL. */
int zs_label_is_word(const char *label);
typedef struct zs_scanner zs_scanner;
/* `net` (input (1, ZS_N_MELS, ZS_N_FRAMES), else ZS_ESHAPE) is borrowed: it
 * must outlive the scanner and not be used elsewhere while the scanner
 * runs. opts NULL = defaults. */
zs_status zs_scanner_create(zs_scanner **out, zs_net *net, const zs_scan_opts *opts);
void zs_scanner_free(zs_scanner *s);
/* Feed n samples of 16 kHz mono audio (chunks of any size; the result does
 * not depend on how the audio is cut). Classifies every full window. */
zs_status zs_scanner_push(zs_scanner *s, const float *x, size_t n);
/* End of the audio: the last window, the remaining decisions, the open run.
 * ZS_EFORMAT if no sample was pushed. Afterwards only next/free are valid. */
zs_status zs_scanner_finish(zs_scanner *s);
/* Take the next detection, oldest first: 1 and *d filled, or 0 if none is
 * ready (a run is reported once it has ended, i.e. up to smooth/2 windows
 * after its last window). */
int zs_scanner_next(zs_scanner *s, zs_detection *d);
/* Windows classified and seconds of audio pushed so far. */
long zs_scanner_windows(const zs_scanner *s);
/* Window j, if it is one of the last `smooth` classified: 1, its state ('g'
 * gated, 'e' word cut by the edge: no vote, 'c' classified) and its K
 * posteriors into p (either may be NULL); else 0. */
int zs_scanner_window(const zs_scanner *s, long j, char *state, float *p);
double zs_scanner_seconds(const zs_scanner *s);

/* ---- utilities --------------------------------------------------------- */
/* xoshiro256** seeded through splitmix64: reproducible across platforms
 * (data set augmentation and shuffling use it). A value type: one per
 * thread, or guard it yourself. */
typedef struct zs_rng { uint64_t s[4]; } zs_rng;
void zs_rng_seed(zs_rng *r, uint64_t seed);
uint64_t zs_rng_u64(zs_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float zs_rng_uniform(zs_rng *r);
/* Uniform integer in [0, n), unbiased. n > 0. */
uint32_t zs_rng_below(zs_rng *r, uint32_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void zs_rng_shuffle(zs_rng *r, int32_t *idx, int n);

/* Read a whole regular file into a malloc'ed buffer (caller frees); FIFOs,
 * devices and directories are refused with ZS_EIO before a read could
 * block. Refuses files over max_bytes with ZS_ELIMIT. */
zs_status zs_read_file(const char *path, size_t max_bytes, void **data, size_t *size);
/* Write `n` buffers atomically: a new PATH.tmp.<pid>.<n> (O_EXCL), fsync,
 * rename over PATH. The new file gets the mode of the regular file it
 * replaces, else 0666 minus the umask, as open(2) would give; a symbolic
 * link is followed (its target is replaced, not the link). A PATH that
 * exists but is not a regular file (directory, device, FIFO) is refused:
 * the rename would replace it. On failure the temporary is removed and
 * PATH is untouched. */
zs_status zs_write_file_atomic(const char *path, const void *const *bufs,
                               const size_t *sizes, int n);
/* ---- integer inference path (src/quant.c) ------------------------------ */
/* A quantised copy of a network: int8 weights with one scale per output
 * channel (BatchNorm folded in), int8 activations with one scale per layer
 * calibrated on `calib_x` (n_calib samples laid out (n, C, H, W), e.g. real
 * training features), int32 accumulation, requantisation by fixed-point
 * multiplier + shift, k-WTA on int16 boosted scores (per-channel boost
 * folded into the fixed-point multiplier; ties to the lower index), 2x2
 * max-pool, int32 logits. After the input is quantised everything is
 * integer: outputs are bit-identical on every machine. Takes networks made
 * of conv2d/linear [batchnorm] [kwinners|kwinners2d global|relu]
 * [maxpool2d 2x2] blocks ending in a linear layer (gsc-sparse,
 * gsc-supersparse, gsc-dense); others give ZS_EUNSUPPORTED. The qnet does
 * not keep `net`. Not thread-safe per qnet (scratch buffers). */
typedef struct zs_qnet zs_qnet;
zs_status zs_qnet_create(zs_qnet **out, const zs_net *net, const float *calib_x, int n_calib);
/* The same with a choice of scheme. ZS_QNET_INT8 is zs_qnet_create (the
 * FPGA core's arithmetic, docs/FPGA.md). ZS_QNET_INT16 keeps top-1 within
 * the fp32 path's answer on >= 99.5 % of real test clips (docs/FPGA.md):
 * the first block (conv + global k-WTA + 2x2 max-pool, required) runs in
 * fp32 with the inference plan's kernels, so its winners are fp32's; its
 * output and every later activation are unsigned 12-bit integers with one
 * scale per channel (calibrated max over calib_x); later weights are int16
 * (BatchNorm and the input channel scales folded in, one scale per output
 * channel, at most 2^30 / (kept weights * 4095) in magnitude so int32
 * accumulation cannot overflow; the output layer one scale per tensor);
 * k-WTA ranks int32 keys (boost folded into a 31-bit multiplier), ties to
 * the lower index. zs_qnet_quantize_input and zs_hw_compile refuse it. */
#define ZS_QNET_INT8 0
#define ZS_QNET_INT16 1
zs_status zs_qnet_create_mode(zs_qnet **out, const zs_net *net, const float *calib_x, int n_calib, int mode);
/* n samples (n, C, H, W): int32 logits (n, K) (real value = logit *
 * zs_qnet_logit_scale) and/or float log-probabilities (n, K); either
 * output may be NULL. */
zs_status zs_qnet_infer(zs_qnet *q, const float *x, int n, int32_t *logits, float *logprob);
/* The int8 input the integer path sees for one sample (C*H*W values). */
zs_status zs_qnet_quantize_input(const zs_qnet *q, const float *x, int8_t *xq);
int zs_qnet_num_classes(const zs_qnet *q);
float zs_qnet_logit_scale(const zs_qnet *q);
void zs_qnet_free(zs_qnet *q);

/* ---- hardware compiler (src/hwcompile.c, docs/FPGA.md) ----------------- */
/* The memory images of the hw/ sparse-sparse core for a quantised network
 * and a lane count (1..64, a power of two). flags ZS_HW_DENSE: a dense core
 * built the same way (every weight, zeros included, and every activation
 * is processed: nothing is skipped), for comparisons. */
#define ZS_HW_DENSE 1
typedef struct zs_hw_image zs_hw_image;
zs_status zs_hw_compile(zs_hw_image **out, const zs_qnet *q, int lanes, int flags);
void zs_hw_image_free(zs_hw_image *img);
typedef struct zs_hw_mem {
    const char *name;      /* the memory's name in hw/zs_core.v          */
    int sel;               /* cfg_sel value that writes it               */
    int lane;              /* cfg_lane (per-lane memories), else -1      */
    int width;             /* bits per row                               */
    int chunks;            /* 32-bit chunks per row (ceil(width / 32))   */
    size_t depth;          /* rows                                       */
    const uint32_t *data;  /* depth * chunks words, chunk 0 = low bits   */
} zs_hw_mem;
int zs_hw_image_num_mems(const zs_hw_image *img);
zs_status zs_hw_image_mem(const zs_hw_image *img, int i, zs_hw_mem *m);
/* Verilog parameters the core must be built with (buffer sizes from the
 * model), as NAME=VALUE pairs; i in [0, zs_hw_image_num_params). */
int zs_hw_image_num_params(const zs_hw_image *img);
zs_status zs_hw_image_param(const zs_hw_image *img, int i, const char **name, int64_t *value);
/* The input lists of one sample (xq from zs_qnet_quantize_input): its
 * non-zero int8 inputs (all of them for ZS_HW_DENSE), one 32-bit entry
 * each, dealt round-robin to the lanes: lane l's counts[l] entries at
 * entries[l * cap ...]; cap must be at least the LIST_DEPTH parameter. */
zs_status zs_hw_input_lists(const zs_hw_image *img, const int8_t *xq, uint32_t *entries, size_t cap,
                            int32_t *counts);
/* Write every memory as DIR/<name>.hex ($readmemh, one row per line) and
 * DIR/params.vh (the parameters); atomic per file. */
zs_status zs_hw_image_write(const zs_hw_image *img, const char *dir);

#ifdef __cplusplus
}
#endif
#endif /* ZEROSKIP_H */
