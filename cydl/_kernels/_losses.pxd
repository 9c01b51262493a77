from cython cimport floating

cdef enum:
    LOSS_SPARSE_SOFTMAX_CE = 0   # logits, integer labels
    LOSS_SOFTMAX_CE = 1          # logits, one-hot / soft targets
    LOSS_SIGMOID_BCE = 2         # logits, 0/1 targets
    LOSS_SPARSE_CE_PROB = 3      # probabilities, integer labels (Keras clipping)
    LOSS_CE_PROB = 4             # probabilities, one-hot / soft targets
    LOSS_BCE_PROB = 5            # probabilities, 0/1 targets
    LOSS_MSE = 6
    LOSS_MAE = 7
    LOSS_HUBER = 8

cdef enum:
    ACC_NONE = 0
    ACC_SPARSE = 1       # argmax(pred) == label
    ACC_CATEGORICAL = 2  # argmax(pred) == argmax(target)
    ACC_BINARY = 3       # mean over columns of (pred > threshold) == target

cdef enum:
    N_STATS = 4   # loss sum, accuracy sum, |error| sum, error^2 sum (per-sample means)

cdef void loss_rows(int kind, int acc_mode, double param, double thresh, double smooth,
                    Py_ssize_t r0, Py_ssize_t r1,
                    Py_ssize_t C, const floating* P, Py_ssize_t prs, Py_ssize_t pcs,
                    const int* labels, const floating* Y, Py_ssize_t yrs, Py_ssize_t ycs,
                    const floating* sw, floating* G, Py_ssize_t grs, Py_ssize_t gcs,
                    floating gscale, double* stats) noexcept nogil
