"""The operators a torch-export reward graph may use: pure, deterministic tensor maths.

Why an allow-list and not a deny-list: a torch-export graph is code. Refusing pickles
is not enough, because ``aten.from_file(path, shared=True)`` followed by an in-place
``fill_`` writes any file the process can write, with no pickle in the archive. A new
torch release adds operators; with an allow-list a new one is refused until someone
has read what it does, instead of running until someone notices.

Every operator here computes an output from its inputs only: no file, process, network
or random-state access, no in-place update of an input or a weight, no uninitialised
memory, no raw pointers or strides (``as_strided``), no control flow with subgraphs
(higher-order operators such as ``cond`` or ``while_loop``). ``out=`` overloads are
refused too: they write into a tensor they did not create.
"""

from __future__ import annotations

# aten operator packets (``torch.ops.aten.<packet>.<overload>``), any overload except out=.
PURE_ATEN = frozenset(
    {
        # arithmetic and comparison, elementwise
        "abs", "neg", "add", "sub", "rsub", "mul", "div", "true_divide", "pow", "sqrt",
        "rsqrt", "exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sin", "cos",
        "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh",
        "atanh", "sigmoid", "logit", "erf", "erfc", "erfinv", "sign", "sgn", "floor", "ceil",
        "round", "trunc", "frac", "reciprocal", "square", "clamp", "clamp_min", "clamp_max",
        "clip", "minimum", "maximum", "fmin", "fmax", "fmod", "remainder", "floor_divide",
        "lerp", "hypot", "copysign", "where", "lt", "le", "gt", "ge", "eq", "ne",
        "logical_and", "logical_or", "logical_not", "logical_xor", "bitwise_and",
        "bitwise_or", "bitwise_not", "bitwise_xor", "isnan", "isinf", "isfinite",
        "nan_to_num", "addcmul", "addcdiv", "xlogy", "masked_fill",
        # activations and normalisation (inference forms)
        "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
        "softplus", "hardtanh", "hardsigmoid", "hardswish", "threshold", "prelu", "glu",
        "softmax", "log_softmax", "_softmax", "_log_softmax", "logsumexp", "layer_norm",
        "native_layer_norm", "group_norm", "native_group_norm",
        "_native_batch_norm_legit_no_training", "rms_norm",
        # reductions and sorting
        "sum", "mean", "prod", "amax", "amin", "max", "min", "argmax", "argmin", "norm",
        "linalg_vector_norm", "var", "std", "var_mean", "std_mean", "cumsum", "cumprod",
        "cummax", "cummin", "all", "any", "median", "sort", "topk",
        # linear algebra and convolution
        "linear", "matmul", "mm", "bmm", "addmm", "addmv", "mv", "dot", "baddbmm", "einsum",
        "outer", "convolution", "conv1d", "conv2d", "max_pool1d", "max_pool2d",
        "max_pool2d_with_indices", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
        "adaptive_avg_pool2d", "_adaptive_avg_pool2d",
        # shapes, views and copies (views over tensors the graph already holds)
        "view", "_unsafe_view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze",
        "expand", "expand_as", "broadcast_to", "t", "transpose", "permute", "movedim",
        "cat", "concat", "concatenate", "stack", "hstack", "vstack", "split",
        "split_with_sizes", "chunk", "unbind", "select", "slice", "narrow", "index_select",
        "gather", "index", "take_along_dim", "repeat", "tile", "roll", "flip", "diagonal",
        "diag", "diag_embed", "tril", "triu", "clone", "alias", "detach", "lift_fresh_copy",
        "_to_copy", "to", "type_as", "one_hot", "embedding",
        # constant tensors of a given shape (initialised, unlike empty)
        "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange",
        "scalar_tensor", "new_zeros", "new_ones", "new_full",
        # shape arithmetic and the asserts torch.export inserts for dynamic shapes
        "sym_size", "sym_numel", "sym_stride", "sym_storage_offset", "_assert_scalar",
        "_assert_tensor_metadata", "sym_constrain_range", "sym_constrain_range_for_size",
        "_local_scalar_dense",
    }
)  # fmt: skip

# Python-level targets torch.export uses for symbolic shape arithmetic and tuple outputs.
PURE_PYTHON = frozenset(
    {
        "_operator.getitem", "_operator.add", "_operator.sub", "_operator.mul",
        "_operator.floordiv", "_operator.truediv", "_operator.mod", "_operator.neg",
        "_operator.pos", "_operator.eq", "_operator.ne", "_operator.lt", "_operator.le",
        "_operator.gt", "_operator.ge", "torch.sym_max", "torch.sym_min", "torch.sym_int",
        "torch.sym_float", "torch.sym_not", "math.trunc",
    }
)  # fmt: skip


def refusal(target: str) -> str | None:
    """Why ``target`` (a serialized graph node target) is refused, or None if it is allowed.

    ``target`` is the string torch.export writes, e.g. ``torch.ops.aten.linear.default``.
    """
    if target in PURE_PYTHON:
        return None
    parts = target.split(".")
    if len(parts) != 5 or parts[:3] != ["torch", "ops", "aten"]:
        return "not an aten operator (custom, higher-order or Python-level call)"
    packet, overload = parts[3], parts[4]
    if packet.endswith("_") and not packet.startswith("_"):
        return "an in-place operator (it overwrites one of its inputs)"
    if "out" in overload.split("_"):
        return "an out= overload (it writes into a tensor it did not create)"
    if packet not in PURE_ATEN:
        return "not on the allow-list of pure tensor operators"
    return None
