from cython cimport floating

cdef enum:
    OPT_SGD = 0
    OPT_ADAM = 1
    OPT_ADAMAX = 2
    OPT_NADAM = 3
    OPT_RMSPROP = 4
    OPT_ADAGRAD = 5

cdef struct OptStep:
    int kind
    double lr              # learning rate of this step
    double momentum        # SGD / RMSprop momentum
    double beta1
    double beta2
    double eps
    double rho
    double weight_decay    # decoupled, Keras 3 style: p -= lr * wd * p
    double clipvalue       # elementwise clip of the gradient; 0 = off
    double clipnorm        # per-variable norm clip; 0 = off
    double global_clipnorm # clip of the norm over all variables; 0 = off
    int nesterov
    int amsgrad
    int centered
    double c1              # per-step scalars precomputed by the Python optimizer
    double c2
    double c3


cdef enum:
    CON_NONE = 0
    CON_NORM = 1          # MaxNorm, UnitNorm, MinMaxNorm over contiguous blocks
    CON_NONNEG = 2


cdef struct SegConstraint:
    int kind
    Py_ssize_t block      # entries per norm (a Dense kernel's column: its n_in weights)
    double lo, hi, rate   # norm -> rate * clip(norm, lo, hi) + (1 - rate) * norm


cdef struct RuleData:
    OptStep s
    Py_ssize_t n_segments
    Py_ssize_t* seg_bounds         # n_segments + 1 offsets of the variables
    double* seg_scale              # gradient scale of each variable this step
    double* seg_l1                 # each variable's l1 / l2 penalty factors (0: none)
    double* seg_l2
    bint has_reg                   # any factor is nonzero
    double* pen                    # [part][segment] penalty sums of the step under way
    int pen_rows                   # parts the step under way uses (rows of pen to read)
    SegConstraint* con             # each variable's constraint, applied after the update
    bint has_con


cdef class UpdateRule:
    cdef RuleData d
    cdef bint configured
    cdef void _free(self) noexcept


cdef bint slot_needed(const OptStep* s, int k) noexcept nogil
cdef int check_slot(const OptStep* s, int k, bint missing, Py_ssize_t size,
                    Py_ssize_t n) except -1


cdef bint needs_norms(const RuleData* r) noexcept nogil
cdef void finish_scales(RuleData* r) noexcept nogil

cdef void update_span(const OptStep* s, Py_ssize_t lo, Py_ssize_t hi, floating* p,
                      const floating* g, floating* s1, floating* s2, floating* s3,
                      floating gscale, double l1, double l2, double* pen) noexcept nogil

cdef void update_range(const RuleData* r, Py_ssize_t lo, Py_ssize_t hi, floating* p,
                       const floating* g, floating* s1, floating* s2,
                       floating* s3, int part) noexcept nogil

cdef double sumsq(const floating* g, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil
cdef double seg_sumsq(const RuleData* r, Py_ssize_t k, const floating* g,
                      const floating* p) noexcept nogil
cdef void reset_penalty(RuleData* r, int parts) noexcept nogil
cdef void apply_constraints(const RuleData* r, floating* p, int part,
                            int parts) noexcept nogil
cdef double penalty(const RuleData* r) noexcept nogil
cdef enum:
    MAX_PARTS = 256       # rows of RuleData.pen: the most parts a step cuts its work into
