"""What bf16 costs the CPU eagerly: the neuron-level models' batched matrix products at
`parity16`'s shapes, float32 against bf16, forward and both backward products.

    python scripts/cpu_bf16_bmm.py [THREADS]
"""

import sys
import time

import torch


def microseconds(fn, repeats: int = 100) -> float:
    for _ in range(5):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e6


def row(dtype: torch.dtype) -> str:
    neurons, out, memory, batch = 256, 32, 10, 64  # parity16: d_model 256, 2H 32, M 10, B 64
    w = torch.randn(neurons, out, memory, dtype=dtype)
    history = torch.randn(neurons, memory, batch, dtype=dtype)
    grad = torch.randn(neurons, out, batch, dtype=dtype)
    forward = microseconds(lambda: torch.bmm(w, history))
    weight_grad = microseconds(lambda: torch.bmm(grad, history.transpose(1, 2)))
    input_grad = microseconds(lambda: torch.bmm(w.transpose(1, 2), grad))
    return (f"{str(dtype):15} forward {forward:7.0f} us  weight grad {weight_grad:7.0f} us  "
            f"input grad {input_grad:7.0f} us")


torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
for dtype in (torch.float32, torch.bfloat16):
    print(row(dtype))
