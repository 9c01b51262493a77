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


def print_summary(model, line_length=None, print_fn=None):
    print_fn = print_fn or print
    rows = []
    for layer in model.layers:
        params = sum(v.size for v in layer.weights) if layer.built else 0
        rows.append((f"{layer.name} ({type(layer).__name__})",
                     _shape(layer.output_shape) if layer.built else "?",
                     f"{params:,}" if layer.built else "0 (unbuilt)"))
    widths = [max(31, *(len(r[0]) for r in rows)) if rows else 31,
              max(22, *(len(r[1]) for r in rows)) if rows else 22, 13]
    if line_length:
        widths[0] = max(widths[0], line_length - widths[1] - widths[2] - 10)

    def line(l, m, r, fill):
        return l + m.join(fill * (w + 2) for w in widths) + r

    def row(cells, align=("<", "<", ">")):
        return "│" + "│".join(f" {c:{a}{w}} " for c, a, w in zip(cells, align, widths)) + "│"

    out = [f'Model: "{model.name}"', line("┏", "┳", "┓", "━"),
           "┃" + "┃".join(f" {c:{a}{w}} " for c, a, w in zip(
               ("Layer (type)", "Output Shape", "Param #"), ("<", "<", ">"), widths)) + "┃",
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
