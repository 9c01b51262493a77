"""Hostile calls to the raw dispatcher (cydl._ops) and the compiled Plan.

The kernels run with bounds checks off, so every index, length and buffer that
reaches them must be checked first. Each case here must end in a ValueError or
TypeError whose message names the offending value, or, for the few marked "ok",
finish normally. The cases run in a child interpreter so that a segfault or a hang
fails its test instead of killing pytest; after a crash the child restarts at the
next case.

Run as a script to see every outcome:  python tests/test_hostile_ops.py
(PYTHONPATH picks which cydl build is tested).
"""
import os
import subprocess
import sys
import textwrap
import time

# children start here: from the checkout's root, `import cydl` would find the
# unbuilt source tree instead of the installed package
_HERE = os.path.dirname(os.path.abspath(__file__))

# (name, code, expected): expected is "ok" (must finish without an exception) or a
# substring the ValueError/TypeError message must contain. The code runs with the
# helpers of _SETUP in scope.
CASES = [
    # ---------------------------------------------------------------- sanity
    ("valid_train_and_predict", "p = plan(); p.train_step(0, 8, 1); p.predict([out()], 8, 1)",
     "ok"),
    ("valid_readonly_bind", "p = plan(X=ro(X)); p.train_step(0, 8, 1)", "ok"),
    ("plan_order_mutated_after_set", "p = plan(); i = perm(); p.set_order(i); "
     "i[0] = 10**9; p.train_step(0, 8, 1)", "ok"),
    ("plan_labels_mutated_after_bind", "p = plan(bind=False); lab = labels.copy(); "
     "p.bind_data(X, lab); p.bind_optimizer(last_rule[0], []); lab[0] = 10**7; "
     "p.train_step(0, 8, 1)", "ok"),
    # ---------------------------------------------------------------- dense_forward
    ("dense_forward_W_1d", "ops.dense_forward(X, np.ones(4))", "W"),
    ("dense_forward_bias_shape", "ops.dense_forward(X, W43, np.ones(5))", "b"),
    ("dense_forward_out_shape", "ops.dense_forward(X, W43, out=np.empty((N, 2), order='F'))",
     "out"),
    ("dense_forward_out_c_order", "ops.dense_forward(X, W43, out=np.empty((N, 3)))", "out"),
    ("dense_forward_out_dtype",
     "ops.dense_forward(X, W43, out=np.empty((N, 3), np.float32, order='F'))", "out"),
    ("dense_forward_out_list", "ops.dense_forward(X, W43, out=[[0.0] * 3] * N)", "out"),
    ("dense_forward_z_out_shape",
     "ops.dense_forward(X, W43, z_out=np.empty((2, 3), order='F'))", "z_out"),
    ("dense_forward_out_readonly",
     "ops.dense_forward(X, W43, out=ro(np.empty((N, 3), order='F')))", "out"),
    ("dense_forward_threads_0", "ops.dense_forward(X, W43, n_threads=0)", "n_threads"),
    # more threads than can be started: capped, not an error
    ("dense_backward_threads_huge",
     "ops.dense_backward(F(N, 3), X, W43, F(N, 3), n_threads=10**6)", "ok"),
    # ---------------------------------------------------------------- dense_backward
    ("dense_backward_Z_shape",
     "ops.dense_backward(F(N, 3), X, W43, F(N, 3), Z=F(2, 3), activation='elu')", "Z"),
    ("dense_backward_dW_out_shape",
     "ops.dense_backward(F(N, 3), X, W43, F(N, 3), dW_out=F(2, 2))", "dW_out"),
    ("dense_backward_dW_out_c_order",
     "ops.dense_backward(F(N, 3), X, W43, F(N, 3), dW_out=np.zeros((4, 3)))", "dW_out"),
    ("dense_backward_db_out_shape",
     "ops.dense_backward(F(N, 3), X, W43, F(N, 3), db_out=np.zeros(1))", "db_out"),
    ("dense_backward_db_out_dtype",
     "ops.dense_backward(F(N, 3), X, W43, F(N, 3), db_out=np.zeros(3, np.float32))",
     "db_out"),
    ("dense_backward_db_out_strided",
     "ops.dense_backward(F(N, 3), X, W43, F(N, 3), db_out=np.zeros(6)[::2])", "db_out"),
    ("dense_backward_dX_out_shape",
     "ops.dense_backward(F(N, 3), X, W43, F(N, 3), dX_out=F(1, 1))", "dX_out"),
    ("dense_backward_dA_shape", "ops.dense_backward(F(2, 3), X, W43, F(N, 3))", "dA"),
    # ---------------------------------------------------------------- activations
    ("activation_forward_out_small", "ops.activation_forward(F(N, 3), out=F(2, 1))", "out"),
    ("activation_forward_out_dtype",
     "ops.activation_forward(F(N, 3), out=np.empty((N, 3), np.float32, order='F'))", "out"),
    ("activation_forward_softmax_out_small",
     "ops.activation_forward(F(N, 3), 'softmax', out=F(N, 2))", "out"),
    ("activation_forward_out_list", "ops.activation_forward(F(N, 3), out=[0.0] * 3)", "out"),
    ("activation_backward_Z_small",
     "ops.activation_backward(F(N, 3), F(N, 3), F(2, 3), activation='elu')", "Z"),
    ("activation_backward_out_small",
     "ops.activation_backward(F(N, 3), F(N, 3), out=F(1, 1))", "out"),
    ("activation_backward_out_dtype",
     "ops.activation_backward(F(N, 3), F(N, 3), out=np.empty((N, 3), np.float32, order='F'))",
     "out"),
    # ---------------------------------------------------------------- losses
    ("loss_label_huge", "ops.loss_forward_backward('sparse_softmax_ce', P, "
     "np.where(np.arange(N) == 3, 10**7, labels))", "10000000"),
    ("loss_label_negative", "ops.loss_forward_backward('sparse_ce_prob', P, "
     "np.where(np.arange(N) == 3, -1, labels))", "-1"),
    ("loss_label_wraps_int32", "ops.loss_forward_backward('sparse_softmax_ce', P, "
     "np.where(np.arange(N) == 3, 2**32 + 1, labels.astype(np.int64)))", "4294967297"),
    ("loss_label_fraction", "ops.loss_forward_backward('sparse_softmax_ce', P, "
     "labels + 0.5)", "integer"),
    ("loss_labels_short", "ops.loss_forward_backward('sparse_softmax_ce', P, labels[:3])",
     "labels"),
    ("loss_grad_out_small", "ops.loss_forward_backward('mse', P, P, grad_out=F(2, 2))",
     "grad_out"),
    ("loss_grad_out_dtype", "ops.loss_forward_backward('mse', P, P, "
     "grad_out=np.empty(P.shape, np.float32))", "grad_out"),
    ("loss_grad_out_list", "ops.loss_forward_backward('mse', P, P, grad_out=[0.0])",
     "grad_out"),
    ("loss_stats_out_short", "ops.loss_forward_backward('mse', P, P, stats_out=np.zeros(2))",
     "stats_out"),
    ("loss_stats_out_float32", "ops.loss_forward_backward('mse', P, P, "
     "stats_out=np.zeros(4, np.float32))", "stats_out"),
    ("loss_stats_out_strided", "ops.loss_forward_backward('mse', P, P, "
     "stats_out=np.zeros(8)[::2])", "stats_out"),
    ("loss_unknown_acc_mode", "ops.loss_forward_backward('mse', P, P, acc_mode='bogus')",
     "bogus"),
    ("loss_sparse_with_categorical_acc", "ops.loss_forward_backward('sparse_softmax_ce', "
     "P, labels, acc_mode='categorical')", "categorical"),
    ("loss_no_columns", "ops.loss_forward_backward('mse', P[:, :0], P[:, :0])", "column"),
    ("loss_unknown_kind", "ops.loss_forward_backward('bogus', P, P)", "bogus"),
    ("loss_sample_weight_short", "ops.loss_forward_backward('mse', P, P, np.ones(2))",
     "sample"),
    ("loss_Y_shape", "ops.loss_forward_backward('mse', P, P[:, :2])", "y_true"),
    # ---------------------------------------------------------------- optimizer
    ("optimizer_slot_short", "r = rule('adam'); ops.optimizer_step(r, zeros(43), zeros(43), "
     "[zeros(3), zeros(43)])", "slot"),
    ("optimizer_slots_missing", "r = rule('adam'); ops.optimizer_step(r, zeros(43), "
     "zeros(43), ())", "slot"),
    ("optimizer_slot_dtype", "r = rule('adam'); ops.optimizer_step(r, zeros(43), zeros(43), "
     "[zeros(43).astype(np.float32), zeros(43)])", "slot"),
    ("optimizer_too_many_slots", "r = rule('sgd'); ops.optimizer_step(r, zeros(43), "
     "zeros(43), [None] * 4)", "slots"),
    ("optimizer_rule_not_configured",
     "ops.optimizer_step(ops.UpdateRule(), zeros(43), zeros(43))", "configure"),
    ("optimizer_params_list", "ops.optimizer_step(rule('sgd'), [0.0] * 3, zeros(3))",
     "params"),
    ("optimizer_params_readonly",
     "ops.optimizer_step(rule('sgd'), ro(zeros(43)), zeros(43))", "read-only"),
    ("optimizer_segments_short", "r = rule('sgd', clipnorm=1.0, segments=[0, 10]); "
     "ops.optimizer_step(r, zeros(43), zeros(43))", "segments"),
    ("rule_apply_grads_short", "rule('sgd').apply(zeros(43), zeros(3), None, None, None, 1)",
     "g"),
    ("rule_apply_slot_short", "rule('adam').apply(zeros(43), zeros(43), zeros(3), zeros(3), "
     "None, 1)", "slot"),
    ("rule_apply_threads_0", "rule('sgd').apply(zeros(43), zeros(43), None, None, None, 0)",
     "n_threads"),
    ("rule_configure_bad_kind", "ops.UpdateRule().configure(99)", "99"),
    ("rule_segments_huge", "rule('sgd', clipnorm=1.0, segments=[0, 10**9, 43])",
     "1000000000"),
    ("rule_segments_negative", "rule('sgd', clipnorm=1.0, segments=[-5, 43])", "-5"),
    ("rule_segments_decreasing", "rule('sgd', clipnorm=1.0, segments=[0, 30, 10, 43])",
     "segments"),
    ("rule_segments_empty", "rule('sgd', clipnorm=1.0, segments=[])", "segments"),
    # ---------------------------------------------------------------- gather_rows
    ("gather_idx_huge", "ops.gather_rows(X, np.array([0, 10**9]), 0, 2, zeros((2, 4)))",
     "1000000000"),
    ("gather_idx_negative", "ops.gather_rows(X, np.array([0, -1]), 0, 2, zeros((2, 4)))",
     "-1"),
    ("gather_start_negative", "ops.gather_rows(X, None, -5, 2, zeros((7, 4)))", "start"),
    ("gather_stop_beyond_rows", "ops.gather_rows(X, None, 0, N + 10, zeros((N + 10, 4)))",
     "stop"),
    ("gather_stop_beyond_idx", "ops.gather_rows(X, np.arange(4), 0, 8, zeros((8, 4)))",
     "stop"),
    ("gather_stop_before_start", "ops.gather_rows(X, None, 5, 2, zeros((8, 4)))", "stop"),
    ("gather_out_too_few_rows", "ops.gather_rows(X, None, 0, 8, zeros((2, 4)))", "out"),
    ("gather_out_too_few_cols", "ops.gather_rows(X, None, 0, 8, zeros((8, 2)))", "out"),
    ("gather_out_int", "ops.gather_rows(X, None, 0, 8, np.zeros((8, 4), np.int32))", "out"),
    ("gather_out_readonly", "ops.gather_rows(X, None, 0, 8, ro(zeros((8, 4))))", "out"),
    ("gather_idx_int32", "ops.gather_rows(X, np.arange(8, dtype=np.int32), 0, 8, "
     "zeros((8, 4)))", "idx"),
    ("gather_X_1d", "ops.gather_rows(X.ravel(), None, 0, 8, zeros((8, 4)))", "X"),
    ("gather_X_int64", "ops.gather_rows(X.astype(np.int64), None, 0, 8, zeros((8, 4)))",
     "X"),
    # the kernels' own entry points check what would steer their raw pointers
    ("kernel_gather_idx_huge", "_data.gather_rows(X, np.array([0, 10**9]), 0, 2, "
     "zeros((2, 4)), 1)", "1000000000"),
    ("kernel_loss_label_huge", "_losses.loss_forward_backward(0, 0, 1.0, 0.5, P, "
     "np.where(np.arange(N) == 3, 10**7, labels).astype(np.int32), None, None, None, 1.0, "
     "np.zeros(4), 1)", "10000000"),
    # ---------------------------------------------------------------- data checks
    ("first_nonfinite_threads_negative", "ops.first_nonfinite(X, n_threads=-1)",
     "n_threads"),
    ("labels_n_classes_huge", "ops.labels_to_int32(labels, 10**12)", "n_classes"),
    ("labels_n_classes_zero", "ops.labels_to_int32(labels, 0)", "n_classes"),
    # ---------------------------------------------------------------- make_plan / Plan()
    ("make_plan_no_layers", "ops.make_plan([], zeros(43), zeros(43), 43, 4, O())",
     "layer"),
    ("make_plan_missing_key", "L = layers(); del L[0]['n_in']; "
     "ops.make_plan(L, zeros(43), zeros(43), 43, 4, O())", "'n_in'"),
    ("make_plan_zero_units", "L = layers(); L[1]['n_out'] = 0; "
     "ops.make_plan(L, zeros(43), zeros(43), 43, 4, O())", "n_out"),
    ("make_plan_n_trainable_huge", "ops.make_plan(layers(), zeros(43), zeros(43), 10**6, 4, "
     "O())", "n_trainable"),
    ("make_plan_unknown_loss", "ops.make_plan(layers(), zeros(43), zeros(43), 43, 4, "
     "O('bogus'))", "bogus"),
    ("make_plan_unknown_acc_mode", "ops.make_plan(layers(), zeros(43), zeros(43), 43, 4, "
     "O('mse', acc_mode='bogus'))", "bogus"),
    ("make_plan_params_readonly", "ops.make_plan(layers(), ro(zeros(43)), zeros(43), 43, 4, "
     "O())", "params"),
    ("make_plan_source_later", "L = layers(); L[0]['src'] = [1]; "
     "ops.make_plan(L, zeros(43), zeros(43), 43, 4, O())", "sources"),
    ("make_plan_source_input_huge", "L = layers(); L[0]['src'] = [-9]; "
     "ops.make_plan(L, zeros(43), zeros(43), 43, 4, O())", "sources"),
    ("make_plan_output_node_huge", "ops.make_plan(layers(), zeros(43), zeros(43), 43, 4, "
     "[{'node': 7, 'loss': 'mse'}])", "node"),
    ("make_plan_output_read_elsewhere", "ops.make_plan(layers(), zeros(43), zeros(43), 43, 4, "
     "[{'node': 0, 'loss': 'mse'}])", "node"),
    ("make_plan_input_columns_outside", "ops.make_plan(layers(), zeros(43), zeros(43), 43, 4, "
     "O(), inputs=[(2, 4)])", "input columns"),
    ("make_plan_merge_widths", "L = layers() + [{'kind': 6, 'src': [0, 1], 'n_in': 5, "
     "'n_out': 5, 'activation': 'linear', 'trainable': False}]; "
     "ops.make_plan(L, zeros(43), zeros(43), 43, 4, [{'node': 2, 'loss': 'mse'}])", "widths"),
    ("make_plan_dropout_without_counter", "L = layers(); L.insert(1, {'kind': 2, "
     "'n_in': 5, 'n_out': 5, 'activation': 'linear', 'trainable': False}); "
     "ops.make_plan(L, zeros(43), zeros(43), 43, 4, [{'node': 2, 'loss': 'mse'}])",
     "counter"),
    ("make_plan_bn_without_statistics", "L = layers(); L.insert(1, {'kind': 1, "
     "'n_in': 5, 'n_out': 5, 'activation': 'linear', 'trainable': False}); "
     "ops.make_plan(L, zeros(43), zeros(43), 43, 4, [{'node': 2, 'loss': 'mse'}])",
     "offsets"),
    ("Plan_direct_no_layers", "_fused.Plan([], zeros(43), zeros(43), 43, 4, OK(), IN)",
     "layer"),
    ("Plan_direct_offset_huge", "S = specs(); S[0]['w'] = 10**9; "
     "_fused.Plan(S, zeros(43), zeros(43), 43, 4, OK(), IN)", "offset"),
    ("Plan_direct_loss_kind_bad", "_fused.Plan(specs(), zeros(43), zeros(43), 43, 4, "
     "OK(99), IN)", "99"),
    ("Plan_direct_acc_mismatch", "_fused.Plan(specs(), zeros(43), zeros(43), 43, 4, "
     "OK(6, 1), IN)", "acc_mode"),
    ("Plan_direct_act_bad", "S = specs(); S[0]['act'] = 99; "
     "_fused.Plan(S, zeros(43), zeros(43), 43, 4, OK(), IN)", "99"),
    # ---------------------------------------------------------------- Plan.bind_data
    ("plan_bind_X_width", "plan(X=np.zeros((N, 7)))", "X"),
    ("plan_bind_X_int64", "plan(X=np.zeros((N, 4), np.int64))", "X"),
    ("plan_bind_X_reversed", "plan(X=X[::-1])", "X"),
    ("plan_bind_X_1d", "plan(X=X.ravel())", "X"),
    ("plan_bind_X_list", "plan(X=X.tolist())", "X"),
    ("plan_bind_label_huge", "plan(labels=np.where(np.arange(N) == 3, 10**7, labels)"
     ".astype(np.int32))", "10000000"),
    ("plan_bind_label_negative", "plan(labels=np.where(np.arange(N) == 3, -1, labels)"
     ".astype(np.int32))", "-1"),
    ("plan_bind_labels_short", "plan(labels=labels[:3])", "labels"),
    ("plan_bind_labels_int64", "plan(labels=labels.astype(np.int64))", "labels"),
    ("plan_bind_Y_cols", "plan('mse', labels=None, Y=np.zeros((N, 7)))", "Y"),
    ("plan_bind_Y_dtype", "plan('mse', labels=None, Y=np.zeros((N, 3), np.float32))", "Y"),
    ("plan_bind_sw_short", "plan(sw=np.ones(3))", "sw"),
    # ---------------------------------------------------------------- Plan.set_order
    ("plan_order_huge", "p = plan(); i = perm(); i[5] = 10**9; p.set_order(i); "
     "p.train_step(0, N // 4, 1)",
     "1000000000"),
    ("plan_order_negative", "p = plan(); i = perm(); i[5] = -1; p.set_order(i); "
     "p.train_step(0, N // 4, 1)", "-1"),
    ("plan_order_short", "p = plan(); p.set_order(np.arange(4)); p.train_step(0, 8, 1)",
     "idx"),
    ("plan_order_int32", "p = plan(); p.set_order(perm().astype(np.int32)); "
     "p.train_step(0, 8, 1)", "idx"),
    ("plan_order_before_bind", "plan(bind=False).set_order(perm())", "bind"),
    # ---------------------------------------------------------------- Plan.bind_optimizer
    ("plan_slots_short", "plan(opt='adam', slots=[zeros(3), zeros(3)])", "slot"),
    ("plan_slots_missing", "p = plan(opt='adam', slots=[]); p.train_step(0, 8, 1)", "slot"),
    ("plan_slot_dtype", "plan(opt='adam', slots=[zeros(43).astype(np.float32)] * 2)",
     "slot"),
    ("plan_slot_readonly", "plan(opt='adam', slots=[ro(zeros(43)), zeros(43)])", "slot"),
    ("plan_rule_reconfigured", "p = plan(); last_rule[0].configure(ops.OPTIMIZER_KINDS"
     "['adam']); p.train_step(0, 8, 1)", "slot"),
    ("plan_segments_beyond", "p = plan(opt='sgd', clipnorm=1.0, segments=[0, 10**6]); "
     "p.train_step(0, 8, 1)", "segments"),
    # ---------------------------------------------------------------- Plan steps
    ("plan_train_before_bind", "plan(bind=False).train_step(0, 8, 1)", "bind"),
    ("plan_train_start_negative", "plan().train_step(-5, 3, 1)", "start"),
    ("plan_train_stop_beyond", "plan().train_step(N - 2, N + 4, 1)", "stop"),
    ("plan_test_start_negative", "plan().test_step(-5, 3, 1)", "start"),
    ("plan_train_sparse_without_labels", "p = plan(bind=False); p.bind_data(X); "
     "p.train_step(0, 8, 1)", "labels"),
    ("plan_train_mse_without_Y", "p = plan('mse', labels=None, Y=np.zeros((N, 3)), "
     "bind=False); p.bind_data(X); p.train_step(0, 8, 1)", "Y"),
    # ---------------------------------------------------------------- Plan.predict
    ("plan_predict_batch_zero", "plan().predict([out()], 0, 1)", "batch"),
    ("plan_predict_batch_negative", "plan().predict([out()], -3, 1)", "batch"),
    ("plan_predict_out_list", "plan().predict([[[0.0] * 3] * N], 8, 1)", "out"),
    ("plan_predict_out_1d", "plan().predict([np.zeros(N)], 8, 1)", "out"),
    ("plan_predict_out_readonly", "plan().predict([ro(out())], 8, 1)", "out"),
    ("plan_predict_out_count", "plan().predict([out(), out()], 8, 1)", "out"),
    ("plan_predict_before_bind", "plan(bind=False).predict([out()], 8, 1)", "bind"),
    ("plan_predict_into_f32_on_f64", "_predict.predict_into(plan(), X.astype(np.float32), "
     "np.zeros((N, 3), np.float32), 1)", "dtype"),
    ("plan_predict_into_width", "_predict.predict_into(plan(), np.zeros((8, 7)), "
     "np.zeros((8, 3)), 1)", "x must hold"),
    ("plan_predict_into_too_many_rows", "_predict.predict_into(plan(batch=4), "
     "np.zeros((8, 4)), np.zeros((8, 3)), 1)", "rows"),
    ("plan_not_initialized", "_fused.Plan.__new__(_fused.Plan).bind_data(X)", "initialized"),
    ("plan_ensure_batch_negative", "plan(bind=False, batch=0).ensure_batch(-4)", "bmax"),
]

_SETUP = r'''
import numpy as np
from cydl import _ops as ops
from cydl._kernels import _data, _fused, _losses, _predict

N = 32
_rng = np.random.default_rng(0)
X = _rng.standard_normal((N, 4))
labels = (np.arange(N) % 3).astype(np.int32)
P = _rng.random((N, 3))
W43 = np.asfortranarray(_rng.standard_normal((4, 3)))


def F(*shape):
    return np.asfortranarray(_rng.standard_normal(shape))


def zeros(shape):
    return np.zeros(shape)


def ro(a):
    a.setflags(write=False)
    return a


def perm():
    return _rng.permutation(N).astype(np.int64)


def out():
    return np.zeros((N, 3))


def layers():
    # 4 -> 5 (relu) -> 3 (softmax); kernel then bias of each layer in one buffer of 43
    return [{"n_in": 4, "n_out": 5, "activation": "relu", "alpha": None, "trainable": True,
             "w": 0, "b": 20},
            {"n_in": 5, "n_out": 3, "activation": "softmax", "alpha": None,
             "trainable": True, "w": 25, "b": 40}]


def specs():
    return [{"n_in": 4, "n_out": 5, "act": 1, "alpha": 0.0, "trainable": True, "w": 0,
             "b": 20, "keep_z": False},
            {"n_in": 5, "n_out": 3, "act": 4, "alpha": 0.0, "trainable": True, "w": 25,
             "b": 40, "keep_z": False}]


def O(loss="mse", **kw):
    """The outputs argument of make_plan: the last node, with this loss."""
    return [dict(node=1, loss=loss, **kw)]


def OK(loss_kind=0, acc_mode=0):
    """The outputs argument of Plan(): kernel codes."""
    return [{"node": 1, "loss_kind": loss_kind, "acc_mode": acc_mode}]


IN = [(0, 4)]
last_rule = [None]    # the UpdateRule of the latest plan()


def rule(kind, clipnorm=0.0, segments=(0, 43)):
    r = ops.UpdateRule()
    r.configure(ops.OPTIMIZER_KINDS[kind], clipnorm=clipnorm)
    r.set_segments(list(segments))
    r.set_step(0.01, 0.01)
    return r


def plan(loss="sparse_ce_prob", X=X, labels=labels, Y=None, sw=None, bind=True,
         opt="sgd", slots=None, clipnorm=0.0, segments=(0, 43), batch=8, step=True):
    params = _rng.standard_normal(43) * 0.1
    p = ops.make_plan(layers(), params, np.zeros(43), 43, 4,
                      O(loss, acc_mode="sparse" if labels is not None else "none"))
    p.ensure_batch(batch)
    r = rule(opt, clipnorm, segments)
    last_rule[0] = r
    if bind:
        p.bind_data(X, labels, Y, sw)
        if slots is None:
            slots = [np.zeros(43), np.zeros(43)] if opt == "adam" else []
        p.bind_optimizer(r, slots)
        if step:     # what a caller does next; this is where bad bindings used to crash
            p.train_step(N - batch, N, 1)
    return p
'''

_RUNNER = r'''
import signal, sys
signal.signal(signal.SIGALRM, signal.SIG_DFL)    # a hang ends the process
cases = dict((name, (code, expected)) for name, code, expected in CASES)
for name in sys.argv[1:]:
    code, expected = cases[name]
    print("BEGIN\t" + name, flush=True)
    signal.alarm(int(HANG_S))
    try:
        exec(code, dict(SCOPE))
        status, detail = "ok", ""
    except (ValueError, TypeError) as e:
        status, detail = "raised", type(e).__name__ + ": " + str(e)
    except BaseException as e:
        status, detail = "other", type(e).__name__ + ": " + str(e)
    signal.alarm(0)
    print("END\t%s\t%s\t%s" % (name, status, detail.replace("\n", " ")), flush=True)
'''

HANG_S = 20


def _child_source():
    return ("CASES = %r\nHANG_S = %r\n_SETUP = %r\nSCOPE = {}\nexec(_SETUP, SCOPE)\n"
            % (CASES, HANG_S, _SETUP)) + _RUNNER


def run_cases(names, env=None):
    """{name: (status, detail)}; status is ok, raised, other, crashed or hung."""
    results, remaining = {}, list(names)
    src = _child_source()
    while remaining:
        proc = subprocess.run([sys.executable, "-c", src, *remaining], capture_output=True,
                              text=True, env=env, timeout=HANG_S + 120, cwd=_HERE)
        begun = None
        for line in proc.stdout.splitlines():
            parts = line.split("\t")
            if parts[0] == "BEGIN":
                begun = parts[1]
            elif parts[0] == "END":
                results[parts[1]] = (parts[2], parts[3])
                begun = None
        if proc.returncode == 0:
            break
        if begun is None:      # died before the first case: setup itself failed
            raise RuntimeError(f"child failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
        rc = proc.returncode
        results[begun] = ("hung" if rc == -14 else "crashed",
                          f"rc={rc} {proc.stderr.strip()[-300:]}")
        remaining = remaining[remaining.index(begun) + 1:]
    return results


def _child_env():
    import cydl
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


if "pytest" in sys.modules:
    import pytest

    @pytest.fixture(scope="module")
    def outcomes():
        t0 = time.perf_counter()
        res = run_cases([c[0] for c in CASES], _child_env())
        print(f"\n{len(CASES)} hostile cases in {time.perf_counter() - t0:.1f} s")
        return res

    @pytest.mark.parametrize("name,expected", [(c[0], c[2]) for c in CASES],
                             ids=[c[0] for c in CASES])
    def test_hostile_call(outcomes, name, expected):
        status, detail = outcomes[name]
        if expected == "ok":
            assert status == "ok", detail
        else:
            assert status == "raised", f"{status}: {detail}"
            assert expected in detail, detail

    def test_case_names_unique():
        assert len({c[0] for c in CASES}) == len(CASES)

    def test_plan_refuses_a_second_thread_mid_step():
        """While one thread predicts (without the GIL), rebinding the data from another
        thread would free what the kernel reads: it must raise instead."""
        child = _SETUP + textwrap.dedent("""
            import threading
            big = np.random.default_rng(1).standard_normal((300_000, 4))
            p = plan(bind=False, batch=1)
            p.bind_data(big, np.zeros(len(big), np.int32))
            out_thread, expected = np.zeros((len(big), 3)), np.zeros((len(big), 3))
            t = threading.Thread(target=p.predict, args=([out_thread], 1, 1))
            t.start()
            time.sleep(0.05)
            refused = 0
            while t.is_alive():
                try:
                    p.bind_data(np.ones((10, 4)), np.zeros(10, np.int32))
                    break                 # the predict had finished
                except RuntimeError:
                    refused += 1
                    time.sleep(0.01)
            t.join()
            p.ensure_batch(256)
            p.bind_data(big, np.zeros(len(big), np.int32))
            p.predict([expected], 256, 1)
            # other batch sizes: other GEMM blocking, so equal up to rounding
            print("REFUSED", refused, "SAME", np.allclose(out_thread, expected, 1e-10, 1e-12))
        """)
        proc = subprocess.run([sys.executable, "-c", "import time\n" + child],
                              capture_output=True, text=True, env=_child_env(), timeout=120,
                              cwd=_HERE)
        assert proc.returncode == 0, proc.stderr[-3000:]
        words = proc.stdout.split()
        assert words[0] == "REFUSED" and int(words[1]) > 0, proc.stdout
        assert words[3] == "True", proc.stdout


if __name__ == "__main__":
    t0 = time.perf_counter()
    res = run_cases([c[0] for c in CASES])
    counts = {}
    for name, _, expected in CASES:
        status, detail = res.get(name, ("missing", ""))
        good = status == "ok" if expected == "ok" else (status == "raised" and
                                                        expected in detail)
        counts[status] = counts.get(status, 0) + 1
        print(f"{'PASS' if good else 'FAIL'} {status:8s} {name:40s} {detail[:110]}")
    print(counts, f"{time.perf_counter() - t0:.1f} s")
