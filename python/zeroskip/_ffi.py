"""zeroskip._ffi -- the C declarations the module uses (a subset of
include/zeroskip.h, kept in the same order; tests/ffi_abi.py has the C
compiler check them against the header) and the loading of
libzeroskip.so through cffi's ABI mode (nothing is compiled).

The library is found, in this order, at: $ZEROSKIP_LIBRARY; the path
`make install` recorded in zeroskip/_install.py; build/libzeroskip.so of the
source tree this package sits in (python/zeroskip -> ../../build); the
system's libzeroskip.so.0 (ldconfig).
"""
import os

from cffi import FFI

CDEF = r"""
const char *zs_version(void);
typedef enum zs_status {
    ZS_OK = 0, ZS_EINVAL = 1, ZS_ENOMEM = 2, ZS_EIO = 3, ZS_EFORMAT = 4,
    ZS_ESHAPE = 5, ZS_EUNSUPPORTED = 6, ZS_ENUMERIC = 7, ZS_ELIMIT = 8
} zs_status;
const char *zs_status_str(zs_status s);
const char *zs_last_error(void);
typedef enum zs_isa { ZS_ISA_SCALAR = 0, ZS_ISA_AVX2 = 1, ZS_ISA_AVX512 = 2 } zs_isa;
zs_isa zs_isa_active(void);
const char *zs_isa_name(zs_isa isa);
void zs_set_threads(int n);

typedef struct zs_net zs_net;
zs_status zs_net_create_preset(zs_net **out, const char *preset, uint64_t seed);
zs_status zs_net_create_json(zs_net **out, const char *json, uint64_t seed);
const char *const *zs_presets(void);
void zs_net_free(zs_net *net);
zs_status zs_net_save(const zs_net *net, const char *path);
zs_status zs_net_save_checkpoint(const zs_net *net, const char *path);
zs_status zs_net_load(zs_net **out, const char *path);
zs_status zs_net_load_mem(zs_net **out, const void *data, size_t size);
void zs_net_input_shape(const zs_net *net, int *c, int *h, int *w);
int zs_net_num_classes(const zs_net *net);
const char *zs_net_class_name(const zs_net *net, int i);
zs_status zs_net_set_class_names(zs_net *net, int n, const char *const *names);
const char *zs_net_arch_name(const zs_net *net);
zs_status zs_net_infer(zs_net *net, const float *x, int n, float *logprob);
void zs_net_set_dense(zs_net *net, int dense);
void zs_net_set_int8_weights(zs_net *net, int on);

typedef struct zs_sgd { float lr; float momentum; float weight_decay; } zs_sgd;
zs_status zs_net_train_step(zs_net *net, const float *x, const int32_t *y, int n,
                            const zs_sgd *opt, float *loss, int *correct);
void zs_net_epoch_end(zs_net *net);
typedef struct zs_train_opts {
    int epochs; int batch; int first_epoch_batch; float lr; float momentum;
    float weight_decay; float lr_gamma; int lr_step; uint64_t seed; int verbose;
    const char *csv_path; const char *checkpoint_path; int max_samples;
} zs_train_opts;
zs_train_opts zs_train_defaults(void);
typedef struct zs_dataset zs_dataset;
typedef struct zs_eval_result {
    int n, correct; double loss; int num_classes;
    int64_t *confusion; int32_t *pred; float *confidence;
} zs_eval_result;
zs_status zs_train(zs_net *net, const zs_dataset *train, const zs_dataset *val,
                   const zs_train_opts *opts);
zs_status zs_eval(zs_net *net, const zs_dataset *data, zs_eval_result *res);
void zs_eval_free(zs_eval_result *res);
zs_status zs_dataset_create(zs_dataset **out, int n, int c, int h, int w);
void zs_dataset_free(zs_dataset *ds);
float *zs_dataset_features(zs_dataset *ds);
int32_t *zs_dataset_labels(zs_dataset *ds);
zs_status zs_dataset_set_class_names(zs_dataset *ds, int n, const char *const *names);

zs_status zs_audio_load(const char *path, int rate, double max_seconds,
                        float **samples, size_t *n);
zs_status zs_audio_resample(const float *in, size_t n_in, int rate_in,
                            int rate_out, float **out, size_t *n_out);
typedef struct zs_frontend zs_frontend;
zs_status zs_frontend_create(zs_frontend **out);
void zs_frontend_free(zs_frontend *fe);
zs_status zs_frontend_logmel(zs_frontend *fe, const float *clip, float *out);
void zs_clip_fit_centred(const float *in, size_t n, float *clip);
typedef struct zs_audio_stream zs_audio_stream;
zs_status zs_audio_stream_open(zs_audio_stream **out, const char *path, int raw_rate, int rate);
zs_status zs_audio_stream_read(zs_audio_stream *s, float *buf, size_t max, size_t *got);
void zs_audio_stream_close(zs_audio_stream *s);

typedef struct zs_scan_opts { double hop_s; int smooth; double threshold; double gate_db; int centre; double min_gap_s; } zs_scan_opts;
typedef struct zs_detection { double start_s, end_s; int label; float confidence; } zs_detection;
typedef struct zs_scanner zs_scanner;
zs_status zs_scanner_create(zs_scanner **out, zs_net *net, const zs_scan_opts *opts);
void zs_scanner_free(zs_scanner *s);
zs_status zs_scanner_push(zs_scanner *s, const float *x, size_t n);
zs_status zs_scanner_finish(zs_scanner *s);
int zs_scanner_next(zs_scanner *s, zs_detection *d);

/* learning while serving (src/learn.c) */
typedef struct zs_learn_opts { float lr; int layers; float weight_decay; int update_duty; int only_class; } zs_learn_opts;
zs_learn_opts zs_learn_defaults(void);
zs_status zs_net_learn(zs_net *net, const float *x, const int32_t *y, int n, const zs_learn_opts *opts,
                       float *loss);
zs_status zs_net_add_class(zs_net *net, const char *name, const float *x, int n);
zs_status zs_net_clone(const zs_net *src, zs_net **out);

void free(void *p);
"""

ffi = FFI()
ffi.cdef(CDEF)

_HERE = os.path.dirname(os.path.abspath(__file__))
_lib = None
loaded_from = None   # the path the library was loaded from


def candidates():
    """Where the library is looked for, in order."""
    out = []
    env = os.environ.get("ZEROSKIP_LIBRARY")
    if env:
        out.append(env)
    try:
        from . import _install  # written by `make install`
        out.append(_install.LIBRARY)
    except ImportError:
        pass
    out.append(os.path.normpath(os.path.join(_HERE, "..", "..", "build", "libzeroskip.so")))
    out.append("libzeroskip.so.0")
    return out


def lib():
    """The loaded library (loaded on first use)."""
    global _lib, loaded_from
    if _lib is None:
        tried = []
        for path in candidates():
            if os.sep in path and not os.path.exists(path):
                tried.append(path + " (missing)")
                continue
            try:
                _lib = ffi.dlopen(path)
                loaded_from = path
                break
            except OSError as e:
                tried.append("%s (%s)" % (path, e))
        if _lib is None:
            raise ImportError("zeroskip: cannot load libzeroskip; tried " + "; ".join(tried) +
                              ". Run `make python` in the source tree, `make install`, "
                              "or set ZEROSKIP_LIBRARY to the library's path")
    return _lib
