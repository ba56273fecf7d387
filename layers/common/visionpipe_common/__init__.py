"""visionpipe's shared runtime package: what every Lambda handler imports (via layers/common)."""

import os

# numpy's OpenBLAS starts a thread per core, each with its own buffers, when numpy is imported:
# ~50 ms of CPU in every cold start that imports numpy, for nothing (no function multiplies
# matrices with numpy; onnxruntime and OpenCV have their own kernels and threads). Only on Lambda:
# local mode and tests share their process (and children) with training code that does.
if os.environ.get("LAMBDA_TASK_ROOT"):
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
