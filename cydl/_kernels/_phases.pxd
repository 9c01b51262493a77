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
    # node kinds (cydl.models._lowering registers the layers that lower to each)
    NODE_DENSE = 0
    NODE_BN = 1
    NODE_DROPOUT = 2
    NODE_PRELU = 3
    NODE_AFFINE = 4


cdef struct LayerDesc:
    int kind              # NODE_*: Dense, or a per-unit node (n_in == n_out)
    int n_in
    int n_out
    int act               # applied to the node's output (a folded activation layer)
    double alpha
    int trainable
    int keep_z            # the activation's derivative needs its input
    Py_ssize_t w          # offsets (elements) of kernel and bias in params/grads;
    Py_ssize_t b          # BN: gamma and beta, PReLU: alpha (-1: none)
    Py_ssize_t m          # BN: moving mean and variance; Normalization: mean and
    Py_ssize_t v          # variance (offsets in params, non-trainable)
    Py_ssize_t a          # offsets in the workspace: output,
    Py_ssize_t z          # pre-activation (-1: computed in place),
    Py_ssize_t d          # and gradient, each bmax x n_out
    Py_ssize_t s          # BN: the batch mean and variance (2 x n_out)
    double eps
    double momentum
    double ka             # dropout: kept units -> ka x + kb, dropped -> kc
    double kb
    double kc
    unsigned long long seed
    unsigned long long thr
    unsigned long long key          # this step's mask stream
    unsigned long long* counter     # the layer's count of training calls


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


cdef void run_step(StepState* p, Py_ssize_t start, Py_ssize_t B, int nt, int mode) noexcept nogil
cdef void copy_out(StepState* p, floating* out, Py_ssize_t start, Py_ssize_t B) noexcept nogil
