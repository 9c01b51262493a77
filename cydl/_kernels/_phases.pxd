from cython cimport floating
from cydl._kernels._optim cimport RuleData

cdef enum:
    MAX_THREADS = 256
    STAT_STRIDE = 8       # doubles per thread: one cache line, no false sharing
    SRC_U8 = 0
    SRC_F32 = 1
    SRC_F64 = 2
    # profile slots: gather, loss, softmax, norms, update, then 2 per layer
    P_GATHER = 0
    P_LOSS = 1
    P_SOFTMAX = 2
    P_NORMS = 3
    P_UPDATE = 4
    P_LAYERS = 5


cdef struct LayerDesc:
    int n_in
    int n_out
    int act
    double alpha
    int trainable
    int keep_z            # the activation's derivative needs its input
    Py_ssize_t w          # offsets (elements) of kernel and bias in params/grads
    Py_ssize_t b          # -1: no bias
    Py_ssize_t a          # offsets in the workspace: output,
    Py_ssize_t z          # pre-activation (-1: computed in place),
    Py_ssize_t d          # and gradient, each bmax x n_out


cdef struct StepState:
    # the network
    LayerDesc* L
    int n_layers
    int n_features
    int first_bwd         # lowest layer that backward reaches
    Py_ssize_t bmax
    bint is_double
    # the loss
    int loss_kind
    int acc_mode
    int on_logits
    double loss_param
    double thresh
    # buffers: flat params and grads, workspace, batch buffers, per-thread stats
    char* P
    char* G
    char* WS
    char* XB
    int* LB
    char* YB
    char* SWB
    double* part_stats
    # the bound data
    const char* X
    int src_kind
    Py_ssize_t n_rows
    const int* labels
    const char* Y
    int y_cols
    const char* SW
    const long long* idx
    # the optimizer
    RuleData* rule
    char* S1
    char* S2
    char* S3
    Py_ssize_t n_trainable
    # optional per-phase timing
    bint profiling
    double* prof


cdef void run_step(StepState* p, Py_ssize_t start, Py_ssize_t B, int nt, int nrun,
                   int mode) noexcept nogil
cdef void copy_out(StepState* p, floating* out, Py_ssize_t start, Py_ssize_t B) noexcept nogil
