"""model.summary(): the Keras 3 table of layers, shapes and parameter counts."""


def _fmt_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024


def _shape(shape):
    return "?" if shape is None else "(" + ", ".join("None" if s is None else str(s)
                                                     for s in shape) + (
        ",)" if len(shape) == 1 else ")")


def _graph_info(model):
    """Per layer: output shape of its first call, and "name[call][tensor]" of what
    each call takes (Keras' "Connected to"); None for Sequential and subclasses."""
    from cydl import graph
    fn = model._function
    if fn is None or not model._is_graph:
        return None
    where, calls, shapes, links = {}, {}, {}, {}
    for t in fn.inputs:
        layer = getattr(t, "_input_layer", None)
        if layer is not None:
            where[id(t)] = f"{layer.name}[0][0]"
    for node in fn.nodes:
        op = node.operation
        k = calls.get(id(op), 0)
        calls[id(op)] = k + 1
        outs = graph.flatten(node.outputs)
        shapes.setdefault(id(op), outs[0].shape if outs else None)
        links.setdefault(id(op), []).extend(
            where.get(id(t), "?") for t in node.parents())
        for j, t in enumerate(outs):
            where[id(t)] = f"{getattr(op, 'name', 'op')}[{k}][{j}]"
    return shapes, links


def print_summary(model, line_length=None, print_fn=None):
    print_fn = print_fn or print
    info = _graph_info(model) if type(model).__name__ != "Sequential" else None
    rows = []
    for layer in model.layers:
        params = sum(v.size for v in layer.weights) if layer.built else 0
        shape = layer.output_shape
        if info is not None:
            shape = info[0].get(id(layer), layer.output_shape)
        row_cells = (f"{layer.name} ({type(layer).__name__})",
                     _shape(shape) if layer.built else "?",
                     f"{params:,}" if layer.built else "0 (unbuilt)")
        if info is not None:
            row_cells += (", ".join(info[1].get(id(layer), [])) or "-",)
        rows.append(row_cells)
    widths = [max(31, *(len(r[0]) for r in rows)) if rows else 31,
              max(22, *(len(r[1]) for r in rows)) if rows else 22, 13]
    headers, aligns = ("Layer (type)", "Output Shape", "Param #"), ("<", "<", ">")
    if info is not None:
        widths.append(max(20, *(len(r[3]) for r in rows)) if rows else 20)
        headers, aligns = headers + ("Connected to",), aligns + ("<",)
    if line_length:
        widths[0] = max(widths[0], line_length - widths[1] - widths[2] - 10)

    def line(l, m, r, fill):
        return l + m.join(fill * (w + 2) for w in widths) + r

    def row(cells, align=aligns):
        return "│" + "│".join(f" {c:{a}{w}} " for c, a, w in zip(cells, align, widths)) + "│"

    out = [f'Model: "{model.name}"', line("┏", "┳", "┓", "━"),
           "┃" + "┃".join(f" {c:{a}{w}} " for c, a, w in zip(
               headers, aligns, widths)) + "┃",
           line("┡", "╇", "┩", "━")]
    for i, r in enumerate(rows):
        out.append(row(r))
        if i < len(rows) - 1:
            out.append(line("├", "┼", "┤", "─"))
    out.append(line("└", "┴", "┘", "─"))
    weights = model.weights
    total = sum(v.size for v in weights)
    trainable = sum(v.size for v in model.trainable_weights)
    item = weights[0].dtype.itemsize if weights else 4
    out.append(f" Total params: {total:,} ({_fmt_bytes(total * item)})")
    out.append(f" Trainable params: {trainable:,} ({_fmt_bytes(trainable * item)})")
    out.append(f" Non-trainable params: {total - trainable:,} "
               f"({_fmt_bytes((total - trainable) * item)})")
    for text in out:
        print_fn(text)
