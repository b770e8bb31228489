"""st_io.py -- the scripts' name for the safetensors reader/writer, which
lives in the Python module (python/zeroskip/st_io.py; json + numpy only,
importing it does not load libzeroskip)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from zeroskip.st_io import (DTYPES, load, nnz_per_unit, pack_sparse, save,  # noqa: E402,F401
                            unpack_sparse, weight_shapes)
