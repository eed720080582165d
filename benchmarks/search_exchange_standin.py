"""A stand-in model for the exchange provider: it reads only the request files and answers them.

It shows the LLM path of the search workflows end to end without an API key: the request carries
the PyTorch reference, the parent kernel with the verifier's and profiler's evidence, and the
tiered inspirations; the stand-in answers with a cpp kernel one step better than the parent it was
shown (serial loop -> parallel vectorized loop -> parallel blocks with a vectorized inner loop),
and branch-free once the evidence says g++ kept a branch in the loop.
It knows three elementwise ops (relu, leaky_relu, x*sigmoid(x)*y), recognized in the reference.

    python benchmarks/search_exchange_standin.py EXCHANGE_DIR     # answers until killed
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

HEADER = 'import torch\nimport torch.nn as nn\nfrom akg_agents.dsl.cpp_loader import load_cpp\n\nCPP_SOURCE = r"""\n'
LOOPS = {
    0: "    for (int64_t i = 0; i < n; ++i) {{ {body} }}\n",
    1: "    #pragma omp parallel for simd schedule(static)\n    for (int64_t i = 0; i < n; ++i) {{ {body} }}\n",
    2: ("    const int64_t block = 16384;\n    #pragma omp parallel for schedule(static)\n"
        "    for (int64_t b = 0; b < n; b += block) {{\n        const int64_t end = b + block < n ? b + block : n;\n"
        "        #pragma omp simd\n        for (int64_t i = b; i < end; ++i) {{ {body} }}\n    }}\n"),
}
OPS = {  # marker in the reference -> (C args, C body, ModelNew)
    "F.leaky_relu": ("const float* x, double slope, float* y", "float v = x[i]; y[i] = v < 0.0f ? v * (float)slope : v;",
                     "    def __init__(self, negative_slope):\n        super().__init__()\n        self.slope = float(negative_slope)\n\n"
                     "    def forward(self, x):\n        x = x.contiguous()\n        y = torch.empty_like(x)\n"
                     "        _lib.k(x, self.slope, y, x.numel())\n        return y\n"),
    "torch.sigmoid(x) * y": ("const float* x, const float* g, float* y",
                             "float v = x[i]; y[i] = v / (1.0f + expf(-v)) * g[i];",
                             "    def forward(self, x, y):\n        x = x.contiguous()\n        y = y.contiguous()\n"
                             "        out = torch.empty_like(x)\n        _lib.k(x, y, out, x.numel())\n        return out\n"),
    "torch.relu": ("const float* x, float* y", "float v = x[i]; y[i] = v < 0.0f ? 0.0f : v;",
                   "    def forward(self, x):\n        x = x.contiguous()\n        y = torch.empty_like(x)\n"
                   "        _lib.k(x, y, x.numel())\n        return y\n"),
}


# When the evidence says g++ kept a branch in the loop (no vectorization), the next answer writes
# the select branch-free.
BRANCH_FREE = {"F.leaky_relu": "float v = x[i]; y[i] = fmaxf(v, 0.0f) + (float)slope * fminf(v, 0.0f);",
               "torch.relu": "y[i] = fmaxf(x[i], 0.0f);"}


def kernel(op: str, level: int, branch_free: bool = False) -> str:
    args, body, model = OPS[op]
    body = BRANCH_FREE.get(op, body) if branch_free else body
    source = (f"// standin-level {level}\n#include <cstdint>\n#include <cmath>\n"
              f'extern "C" void k({args}, int64_t n) {{\n{LOOPS[level].format(body=body)}}}\n')
    return f'```python\n{HEADER}{source}"""\n_lib = load_cpp(CPP_SOURCE)\n\n\nclass ModelNew(nn.Module):\n{model}```\n'


def answer(request: str) -> str:
    reference = request.split("## The PyTorch reference", 1)[-1].split("## Op analysis", 1)[0]
    op = next(marker for marker in OPS if marker in reference)
    previous = request.split("## Previous attempt", 1)[1] if "## Previous attempt" in request else ""
    shown = previous.split("## Inspirations", 1)[0]
    found = re.search(r"standin-level (\d)", shown)
    level = min(int(found.group(1)) + 1, 2) if found else 0
    branchy = "NOT vectorized (control flow in loop" in shown or "fmaxf" in shown
    return kernel(op, level, branch_free=branchy)


def serve(folder: Path) -> None:
    while True:
        for request in sorted(folder.glob("*.request.json")):
            data = json.loads(request.read_text())
            target = folder / data["answer_file"]
            if target.exists():
                continue
            tmp = target.with_suffix(".tmp")
            tmp.write_text(answer(data["messages"][-1]["content"]))
            os.replace(tmp, target)
        time.sleep(0.2)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
