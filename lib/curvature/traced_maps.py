"""Linear maps traced once and split into a primal pass and a tangent pass: v -> A(x, y) v.

A curvature product at fixed parameters, v -> H_b v for a batch b = (x, y), is linear in v, but evaluating it the
direct way (``jvp(grad(L_b))``) recomputes the whole primal pass for every v: the forward activations, ReLU masks,
pooling indices, the softmax and the cotangents of the backward pass. ``trace_split_map`` records the product once,
for batches of one shape, as a graph of ATen operations (``torch.fx.experimental.proxy_tensor.make_fx``) with the
batch and v as inputs, and partitions it by what each node depends on (the construction behind
``torch.func.linearize`` and ``jax.linearize``, kept explicit so that the memory it holds can be measured):

* constants (parameters, buffers and what is computed from them alone) are evaluated once, at tracing, and kept;
* the primal part (x, y -> the boundary tensors the tangent part reads) runs once per batch, however many vectors
  are multiplied, and its boundary tensors can be kept for later products or dropped after the batch;
* the tangent part (v, boundary -> A v) runs once per vector.

What crosses the boundary is kept compact: a ReLU output that the tangent part only compares with its threshold
crosses as a boolean mask, pooling indices cross as the smallest integer type that holds the pooled plane's size
(both widened again once per batch, not per vector), an argument read only for its shape crosses as nothing, and
views of boundary tensors are taken after the boundary instead of crossing it as further tensors. A constant that is all
zeros and read only by elementwise arithmetic (the tangent of a first layer's output through its input, which does
not move) is kept as one broadcast zero, and an addition of a zero (that constant, or one of autograd's gradient
accumulators ``zeros_like(t) + u`` on the tangent side) to a tensor of the sum's layout is skipped. Before the split,
a ReLU's mask read through a max-pooling is moved after the pooling (``_mask_after_pooling``, an exact identity), so
that convolutional nets read and keep their masks at the pooled size.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, fx, nn
from torch.fx.experimental.proxy_tensor import make_fx

_aten = torch.ops.aten
_CONST, _PRIMAL, _TANGENT = 0, 1, 2
# operations whose output is a view of their first argument: taken after the boundary rather than crossing it
_VIEWS = {_aten.view.default, _aten.alias.default, _aten.t.default, _aten.expand.default, _aten.unsqueeze.default,
          _aten.squeeze.dim, _aten.permute.default, _aten.transpose.int, _aten.slice.Tensor, _aten.select.int,
          _aten._unsafe_view.default}
# arithmetic that reads a broadcast (stride-0) tensor as it reads a dense one
_ELEMENTWISE = {_aten.add.Tensor, _aten.sub.Tensor, _aten.mul.Tensor}
# (operation, argument position) read only for its shape and dtype
_SHAPE_ONLY = {(_aten.max_pool2d_with_indices_backward.default, 1)}


@dataclass(frozen=True)
class SplitLinearMap:
    """A traced map v -> A(x, y) v split into ``primal`` ((x, y) -> packed boundary tensors), ``unpack`` (packed ->
    boundary, once per batch and product) and ``tangent`` ((v, *boundary) -> A v); ``storages`` are the constants
    the graphs own (data pointer -> bytes; the parameters and buffers they were traced on are not counted)."""

    primal: fx.GraphModule
    unpack: fx.GraphModule
    tangent: fx.GraphModule
    storages: dict[int, int] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Bytes of the constants the map owns."""
        return sum(self.storages.values())

    def boundary(self, *batch: Tensor) -> tuple:
        """The packed boundary tensors of one batch: the primal pass, run once for any number of vectors."""
        return tuple(self.primal(*batch))

    def apply(self, packed: Sequence, V: Tensor) -> Tensor:
        """A V for a P x k matrix V, from a batch's packed boundary: unpacked once, then one tangent pass a column."""
        boundary = tuple(self.unpack(*packed))
        return torch.stack([self.tangent(v, *boundary) for v in V.T], dim=1)


def tensor_storages(values: Iterable[object], external: Iterable[Tensor] = ()) -> dict[int, int]:
    """The distinct storages of the tensors in ``values`` (nested tuples and lists included), as data pointer ->
    bytes, leaving out those of ``external`` tensors (which live whether or not the values do: the data, the
    parameters)."""
    skip = {t.untyped_storage().data_ptr() for t in external}
    held: dict[int, int] = {}
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, tuple | list):
            stack.extend(value)
        elif isinstance(value, Tensor) and value.layout == torch.strided:
            storage = value.untyped_storage()
            if storage.data_ptr() not in skip and storage.nbytes() > 0:
                held[storage.data_ptr()] = storage.nbytes()
    return held


def _val(node: fx.Node) -> object:
    return node.meta.get("val")


def _written(node: fx.Node) -> list[fx.Node]:
    """The arguments an in-place or out= operation writes to."""
    schema = getattr(node.target, "_schema", None)
    if schema is None or not schema.is_mutable:
        return []
    return [a for a, s in zip(node.args, schema.arguments, strict=False)
            if isinstance(a, fx.Node) and s.alias_info is not None and s.alias_info.is_write]


def _index_dtype(node: fx.Node) -> torch.dtype | None:
    """The smallest integer type for the indices output of a max-pooling node (``getitem(max_pool, 1)``): they
    index the pooled input's last two dimensions, so they are below that plane's size."""
    if node.target is not operator.getitem or node.args[1] != 1:
        return None
    pool = node.args[0]
    if not (isinstance(pool, fx.Node) and pool.target is _aten.max_pool2d_with_indices.default):
        return None
    plane = _val(pool.args[0]).shape[-2] * _val(pool.args[0]).shape[-1]
    for dtype in (torch.int16, torch.int32):
        if plane - 1 <= torch.iinfo(dtype).max:
            return dtype
    return None


def _same_layout(a: object, b: object) -> bool:
    return isinstance(a, Tensor) and isinstance(b, Tensor) and a.shape == b.shape and a.dtype == b.dtype


def _zero_add_other(node: fx.Node, zeros: set[fx.Node]) -> fx.Node | None:
    """The operand t of ``node`` when it is ``zero + t`` (or ``t + zero``) with zero in ``zeros`` and the sum has t's
    shape and dtype, so that the addition can be skipped; otherwise None."""
    if node.target is _aten.add.Tensor and not node.kwargs and len(node.args) == 2:
        other = [b for a, b in (node.args, node.args[::-1]) if a in zeros and isinstance(b, fx.Node)]
        if other and other[0] not in zeros and _same_layout(_val(other[0]), _val(node)):
            return other[0]
    return None


def _call(graph: fx.Graph, target: Callable, *args: object) -> fx.Node:
    """A new ``target(*args)`` node, with a fake value of its output (shape, dtype, device) in its metadata as
    ``make_fx`` records one: computed on the meta device, then made a fake tensor of its first input's device."""
    node = graph.call_function(target, args)
    values = fx.node.map_arg(args, _val)
    first = next(v for v in values if isinstance(v, Tensor))
    meta = target(*(torch.empty_strided(v.shape, v.stride(), dtype=v.dtype, device="meta")
                    if isinstance(v, Tensor) else v for v in values))
    with first.fake_mode:
        node.meta["val"] = torch.empty_strided(meta.shape, meta.stride(), dtype=meta.dtype, device=first.device)
    return node


def _unaliased(node: object) -> object:
    while isinstance(node, fx.Node) and node.target is _aten.alias.default:
        node = node.args[0]
    return node


def _pooling(indices: object, masked: object) -> fx.Node | None:
    """The max-pooling node whose indices output is ``indices`` (through aliases), when it pooled ``masked`` (through
    aliases); otherwise None."""
    indices = _unaliased(indices)
    if not (isinstance(indices, fx.Node) and indices.target is operator.getitem and indices.args[1] == 1):
        return None
    pool = indices.args[0]
    if pool.target is _aten.max_pool2d_with_indices.default and _unaliased(pool.args[0]) is _unaliased(masked):
        return pool
    return None


def _planes(node: fx.Node) -> tuple[int, ...]:
    """A 4-d tensor's shape with its planes (last two dimensions) flattened into one; a smaller one's as it is."""
    shape = tuple(_val(node).shape)
    return shape if len(shape) < 4 else (*shape[:-2], shape[-2] * shape[-1])


def _pooled_value(graph: fx.Graph, pool: fx.Node) -> fx.Node:
    """The values output ``getitem(pool, 0)`` of a max-pooling node, added after it if the graph does not read it."""
    for user in pool.users:
        if user.target is operator.getitem and user.args[1] == 0:
            return user
    with graph.inserting_after(pool):
        value = graph.call_function(operator.getitem, (pool, 0))
    value.meta["val"] = _val(pool)[0]
    return value


def _mask_after_pooling(graph: fx.Graph) -> None:
    """Apply a ReLU's mask at max-pooling's resolution: ``threshold_backward(t, r, c)``, read through the pooling
    of r, is thresholded after the pooling instead, against the pooled values.

    Exact, since max-pooling only moves values: with i(w) the position of window w's maximum, pooled(w) = r[i(w)], so
    (forward tangent) gather(threshold_backward(t, r, c), i) = threshold_backward(gather(t, i), pooled, c) and
    (backward) threshold_backward(scatter(g, i), r, c) = scatter(threshold_backward(g, pooled, c), i), the positions
    outside i being zero either way. The masks are read on a tensor the pooling's size (a quarter for 2 x 2), once per
    vector, and cross the boundary that size; r itself is then read only for its shape.
    """
    for node in list(graph.nodes):
        if node.target is _aten.threshold_backward.default:  # backward: threshold_backward(scatter(g, i), r, c)
            scatter, masked, threshold = node.args
            if not (isinstance(scatter, fx.Node) and scatter.target is _aten.max_pool2d_with_indices_backward.default):
                continue
            pool = _pooling(scatter.args[7], masked)
            if pool is None:
                continue
            with graph.inserting_before(node):
                g = _call(graph, _aten.threshold_backward.default, scatter.args[0], _pooled_value(graph, pool),
                          threshold)
                # its second argument is read for its shape only: r's (autograd may pass a tangent of r's shape)
                moved = _call(graph, _aten.max_pool2d_with_indices_backward.default, g, masked, *scatter.args[2:])
            node.replace_all_uses_with(moved)
        elif node.target is _aten.gather.default and node.args[1] == -1 and not node.kwargs:
            # forward tangent: view(gather(view(threshold_backward(t, r, c)), -1, view(i))), planes flattened
            flat, index = node.args[0], node.args[2]
            if not (flat.target is _aten.view.default and index.target is _aten.view.default):
                continue
            masked = flat.args[0]
            if masked.target is not _aten.threshold_backward.default:
                continue
            pool = _pooling(index.args[0], masked.args[1])
            if pool is None or _planes(flat) != _planes(masked) or _planes(index) != _planes(index.args[0]):
                continue
            pooled = _pooled_value(graph, pool)
            with graph.inserting_before(node):
                t = _call(graph, _aten.view.default, masked.args[0], flat.args[1])
                moved = _call(graph, _aten.gather.default, t, -1, index)
                planes = _call(graph, _aten.view.default, moved, list(_val(pooled).shape))
                thresholded = _call(graph, _aten.threshold_backward.default, planes, pooled, masked.args[2])
                out = _call(graph, _aten.view.default, thresholded, list(_val(node).shape))
            node.replace_all_uses_with(out)
            # autograd's accumulator zeros_like(threshold_backward(t, r, c)) reads it only for t's layout
            for user in list(masked.users):
                if user.target is _aten.zeros_like.default:
                    user.replace_input_with(masked, masked.args[0])
    graph.eliminate_dead_code()


def _count(user: fx.Node, node: fx.Node) -> int:
    """How many times ``node`` occurs among ``user``'s arguments, nested and keyword ones included."""
    found = []
    fx.node.map_arg((user.args, user.kwargs), lambda n: found.append(n is node) or n)
    return sum(found)


def _evaluate(node: fx.Node, env: dict[fx.Node, object], root: nn.Module) -> object:
    if node.op == "get_attr":
        value = root
        for part in node.target.split("."):
            value = getattr(value, part)
        return value
    if node.op != "call_function":
        raise NotImplementedError(f"cannot evaluate a {node.op} node")
    args, kwargs = fx.node.map_arg((node.args, node.kwargs), lambda n: env[n])
    return node.target(*args, **kwargs)


def trace_split_map(fn: Callable[..., Tensor], batch: Sequence[Tensor], example: Tensor,
                    external: Iterable[Tensor] = ()) -> SplitLinearMap:
    """Trace ``fn(*batch, v)`` (linear in v, shaped like ``example``) once and split it (see the module docstring).

    The returned map serves every batch with the shapes and dtypes of ``batch``. ``fn`` must be traceable by
    ``make_fx`` (no data-dependent Python control flow); a graph whose tangent part writes into a primal or
    constant tensor (or whose primal part writes into a constant) is refused with ``NotImplementedError``, since
    replaying it would corrupt what is kept.
    """
    traced = make_fx(fn)(*batch, torch.zeros_like(example))
    graph = traced.graph
    graph.eliminate_dead_code()
    _mask_after_pooling(graph)
    nodes = list(graph.nodes)
    kind: dict[fx.Node, int] = {}
    placeholders = [n for n in nodes if n.op == "placeholder"]
    for node in nodes:
        if node.op == "placeholder":
            kind[node] = _TANGENT if node is placeholders[-1] else _PRIMAL
        elif node.op == "get_attr":
            kind[node] = _CONST
        elif node.op == "call_function":
            kind[node] = max((kind[a] for a in node.all_input_nodes), default=_CONST)
            if any(kind[w] != kind[node] for w in _written(node)):
                raise NotImplementedError(f"{node.target} writes into a tensor kept across products")
    output = next(n for n in nodes if n.op == "output")

    # views of primal tensors read only by the tangent part are taken after the boundary, on the unpacked tensors
    late: set[fx.Node] = set()
    for node in reversed(nodes):
        if (kind.get(node) == _PRIMAL and node.op == "call_function" and node.target in _VIEWS and node.users
                and all(kind.get(u) == _TANGENT or u in late for u in node.users)):
            late.add(node)

    def tangent_side(user: fx.Node) -> bool:
        return kind.get(user) == _TANGENT or user in late or user is output

    boundary = [n for n in nodes if kind.get(n) == _PRIMAL and n not in late
                and any(tangent_side(u) for u in n.users)]

    # constants: evaluated once; a zero constant read only by elementwise arithmetic is kept as one broadcast zero
    env: dict[fx.Node, object] = {}
    for node in nodes:
        if kind.get(node) == _CONST:
            env[node] = _evaluate(node, env, traced)
    zeros: set[fx.Node] = set()
    for node, value in env.items():
        if (isinstance(value, Tensor) and value.layout == torch.strided and value.numel() > 1
                and all(u.target in _ELEMENTWISE for u in node.users) and not value.any()):
            env[node] = value.new_zeros(()).expand(value.shape)
            zeros.add(node)
    # autograd's gradient accumulators on the tangent side (zeros_like(t) + u, an activation-sized fill and addition
    # for every vector) are never materialised where every read of them is such a skippable addition
    accumulators = {n for n in nodes if kind.get(n) == _TANGENT and n.target is _aten.zeros_like.default}
    zeros |= {n for n in accumulators if n.users and all(_zero_add_other(u, zeros | accumulators) is not None
                                                         for u in n.users)}
    root = nn.Module()
    const_names: dict[fx.Node, str] = {}

    def const(g: fx.Graph, node: fx.Node) -> fx.Node:
        if node not in const_names:
            const_names[node] = f"c{len(const_names)}"
            setattr(root, const_names[node], env[node])
        return g.get_attr(const_names[node])

    # the primal graph: (x, y) -> packed boundary
    primal = fx.Graph()
    penv: dict[fx.Node, fx.Node] = {}
    for node in placeholders[:-1]:
        penv[node] = primal.placeholder(node.name)
    for node in nodes:
        if kind.get(node) == _PRIMAL and node.op == "call_function" and node not in late:
            penv[node] = primal.node_copy(node, lambda n: penv[n] if kind[n] == _PRIMAL else const(primal, n))
    # the unpack graph: packed -> boundary; the tangent graph: (v, *boundary) -> A v
    unpack, tangent = fx.Graph(), fx.Graph()
    v = tangent.placeholder("v")
    packed, unpacked, tenv = [], [], {placeholders[-1]: v}
    dropped: set[fx.Node] = set()  # aliases of tensors that cross the boundary compacted
    masks: dict[fx.Node, fx.Node] = {}  # threshold_backward node -> the mask that replaces it by a where
    shapes: dict[tuple[fx.Node, int], fx.Node] = {}  # (node, argument position) read for its shape -> a stand-in
    inputs = [unpack.placeholder(f"b{i}") for i in range(len(boundary))]
    for i, (node, p) in enumerate(zip(boundary, inputs, strict=True)):
        # the reads of the tangent side, through aliases (which are the tensor itself)
        aliases, users, frontier = [], [], [node]
        while frontier:
            base = frontier.pop()
            for u in base.users:
                if u in late and u.target is _aten.alias.default:
                    aliases.append(u)
                    frontier.append(u)
                elif tangent_side(u):
                    users.append((u, base))
        uses = [(u, k) for u, base in users for k, a in enumerate(u.args) if a is base]
        # read only as a direct positional argument (not in keyword or nested arguments): may be replaced
        direct = all(sum(a is base for a in u.args) == _count(u, base) for u, base in users)
        value = _val(node)
        thresholds = {u.args[2] for u, k in uses if u.target is _aten.threshold_backward.default and k == 1}
        only = all((u.target, k) in _SHAPE_ONLY or (u.target is _aten.threshold_backward.default and k == 1)
                   for u, k in uses)
        if isinstance(value, Tensor) and value.is_floating_point() and direct and only and len(thresholds) <= 1 and \
                not any(u in late or u is output for u, _ in uses):
            # a ReLU-like output read only against its threshold and for its shape: a boolean mask, or nothing
            if thresholds:
                packed.append(primal.call_function(_aten.gt.Scalar, (penv[node], next(iter(thresholds)))))
                mask = tangent.placeholder(f"m{i}")
                # widened to the tensor's dtype once per batch: threshold_backward on it is several times faster
                # than a where on the booleans, for every vector
                unpacked.append(unpack.call_function(_aten._to_copy.default, (p,), {"dtype": value.dtype}))
            else:
                packed.append(primal.call_function(_aten.empty.memory_format, ([0],),
                                                   {"dtype": value.dtype, "device": value.device}))
                mask = None
            # the stand-in for shape-only reads: allocated, never written or read (a broadcast zero would do, but
            # max-pooling's backward runs slower on one)
            unpacked.append(unpack.call_function(_aten.empty.memory_format, (list(value.shape),),
                                                 {"dtype": value.dtype, "device": value.device}))
            shape = tangent.placeholder(f"s{i}")
            dropped.update(aliases)
            for u, k in uses:
                if u.target is _aten.threshold_backward.default:
                    masks[u] = mask
                else:
                    shapes[(u, k)] = shape
            continue
        narrow = _index_dtype(node)
        if narrow is not None:
            packed.append(primal.call_function(_aten._to_copy.default, (penv[node],), {"dtype": narrow}))
            unpacked.append(unpack.call_function(_aten._to_copy.default, (p,), {"dtype": value.dtype}))
        else:
            packed.append(penv[node])
            unpacked.append(p)
        tenv[node] = tangent.placeholder(f"b{i}")
    primal.output(tuple(packed))
    unpack.output(tuple(unpacked))

    def arg(n: fx.Node) -> fx.Node:
        return const(tangent, n) if kind[n] == _CONST else tenv[n]

    for node in nodes:
        if node.op != "call_function" or not (kind.get(node) == _TANGENT or node in late) or node in dropped \
                or (kind.get(node) == _TANGENT and node in zeros):
            continue
        other = _zero_add_other(node, zeros)
        if other is not None:  # zero + t is t where the sum has t's shape and dtype: the addition is skipped
            tenv[node] = arg(other)
            continue
        if node in masks:  # threshold_backward(g, out, t) = threshold_backward(g, float(out > t), 0)
            tenv[node] = tangent.call_function(_aten.threshold_backward.default, (arg(node.args[0]), masks[node], 0))
            continue
        replaced = {k: shapes[(node, k)] for k in range(len(node.args)) if (node, k) in shapes}
        if replaced:
            args = tuple(replaced[k] if k in replaced else fx.node.map_arg(a, arg) for k, a in enumerate(node.args))
            tenv[node] = tangent.call_function(node.target, args, fx.node.map_arg(node.kwargs, arg))
        else:
            tenv[node] = tangent.node_copy(node, arg)
    tangent.output(fx.node.map_arg(output.args[0], arg))
    modules = [fx.GraphModule(root, g) for g in (primal, unpack, tangent)]
    values = [env[n] for n in const_names]
    return SplitLinearMap(*modules, tensor_storages(values, external))
