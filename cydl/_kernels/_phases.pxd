from cython cimport floating
from cydl._kernels._optim cimport RuleData

cdef enum:
    MAX_THREADS = 256
    STAT_STRIDE = 8       # doubles per thread and output group: one cache line
    MAX_SRC = 8           # inputs of one node (merge layers), and model inputs
    MAX_OUT = 8           # model outputs
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
    PROF_THREADS = 64     # threads whose barrier waits the profile keeps
    # node kinds (cydl.models._lowering registers the layers that lower to each)
    NODE_DENSE = 0
    NODE_BN = 1
    NODE_DROPOUT = 2
    NODE_PRELU = 3
    NODE_AFFINE = 4
    NODE_CONCAT = 5       # merge nodes: n_src sources, column-major like every node
    NODE_ADD = 6
    NODE_SUBTRACT = 7
    NODE_MULTIPLY = 8
    NODE_AVERAGE = 9
    NODE_MAXIMUM = 10
    NODE_MINIMUM = 11


cdef extern from "_barrier.h" nogil:
    ctypedef struct cydl_barrier_t:
        int count
        int gen
        int sleepers
    void cydl_barrier_init(cydl_barrier_t* b)
    void cydl_barrier_wait(cydl_barrier_t* b, int n)
    void cydl_barrier_set_spin(long n)
    long cydl_spin_limit


cdef struct LayerDesc:
    int kind              # NODE_*: Dense, a per-unit node (n_in == n_out) or a merge
    int n_src
    int src[MAX_SRC]      # what it reads: node index >= 0, or -1 - k for model input k
    int need_dx           # its sources want a gradient
    int needs_bwd         # it has a backward part (trained, or need_dx)
    int accum             # read by several nodes: they add into d, and the node applies
                          # its own activation derivative before its backward part
    int out               # the model output it is (-1: none)
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
    Py_ssize_t at         # a row-major copy of the output for its Dense readers'
                          # weight gradient, while batches are small (-1: none;
                          # see _parts.row_copies)
    double eps
    double momentum
    double ka             # dropout: kept units -> ka x + kb, dropped -> kc
    double kb
    double kc
    unsigned long long seed
    unsigned long long thr
    unsigned long long key          # this step's mask stream
    unsigned long long* counter     # the layer's count of training calls
    int ar_slot           # activity regularizer (Keras' l1 sum|a| + l2 sum a^2 of the
    double ar_l1          # node's output, over the batch size): its index among the
    double ar_l2          # plan's penalties (-1: none) and its factors


cdef struct OutDesc:
    int node
    int loss_kind
    int acc_mode
    int on_logits
    double param
    double thresh
    double weight         # loss weight: scales this output's gradient
    double smooth         # label smoothing (cross-entropies)
    int sparse            # integer labels (column `col` of the labels) or
    int col               # targets (columns col.. of Y)


cdef struct StepState:
    # the network
    LayerDesc* L
    int n_layers
    int n_features
    int first_bwd         # lowest layer that backward reaches
    Py_ssize_t bmax
    bint is_double
    # inputs: column ranges of one combined row; outputs with their losses
    int n_inputs
    int in_off[MAX_SRC]
    int in_width[MAX_SRC]
    int n_outputs
    OutDesc outs[MAX_OUT]
    int label_cols
    int n_ar              # nodes with an activity regularizer: their penalty sums
                          # follow the outputs' statistics in part_stats
    int stat_stride       # doubles per thread in part_stats
    # buffers: flat params and grads, workspace, batch buffers, per-thread stats
    char* P
    char* G
    char* WS
    char* XB
    int* LB
    char* YB
    char* SWB
    double* part_stats
    bint row_copy         # this step writes and reads row-major copies (decided once
                          # per step, in _fused.Plan._run; see _parts.row_copies)
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
    # the barrier between phases (a cache line of its own)
    cydl_barrier_t* bar
    # optional per-phase timing: thread 0's time per slot (prof), each thread's
    # barrier waits per slot (waits, PROF_THREADS x slots; pending: the waits since
    # the thread's last slot, one cache line per thread), in one block from prof
    bint profiling
    double* prof
    double* waits
    double* pending
    int prof_threads      # threads that ran the profiled steps (the most seen)
    # data parallel (cydl.distribution): this process runs a slice of a global batch
    Py_ssize_t row0       # its first row's index in the global batch (dropout masks)
    double loss_rows      # the rows the loss mean divides by (the global batch size)
    int split             # 0: the whole step; 1: up to final gradients, no update;
                          # 2: the update alone (after the gradients were summed)


cdef void run_step(StepState* p, Py_ssize_t start, Py_ssize_t B, int nt, int nrun,
                   int mode) noexcept nogil
cdef void copy_out(StepState* p, int k, floating* out, Py_ssize_t start,
                   Py_ssize_t B) noexcept nogil
