"""scikit-learn's random streams and splits, draw for draw.

The estimators take their random numbers where scikit-learn's take them (the same
generator, the same calls, in the same order), so that a `random_state` gives the
initial weights, the batches and the validation split scikit-learn gives. Where
scikit-learn is installed its own splitters and class weights are used; without
it, equivalents of the non-stratified ones.
"""
import numbers

import numpy as np

MAX_INT = np.iinfo(np.int32).max
_RAND_R_MAX = 2147483647      # sklearn/utils/_random.pxd


def check_random_state(seed):
    """sklearn.utils.check_random_state: None is NumPy's global RandomState."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"random_state must be None, an int or a numpy.random.RandomState. "
                     f"Received: random_state={seed!r}")


def shuffled(index, rs):
    """sklearn.utils.shuffle(index, random_state=rs): one rs.shuffle of arange(n)."""
    perm = np.arange(len(index))
    rs.shuffle(perm)
    return index[perm]


def train_val_split(n, fraction, rs, stratify=None):
    """(train rows, validation rows) as sklearn's train_test_split(arange(n),
    test_size=fraction, random_state=rs, stratify=stratify) gives them."""
    try:
        from sklearn.model_selection import train_test_split
    except ImportError:
        # ShuffleSplit's draws (stratification needs scikit-learn)
        n_test = int(np.ceil(fraction * n))
        perm = rs.permutation(n)
        return perm[n_test:], perm[:n_test]
    train, val = train_test_split(np.arange(n), test_size=fraction, random_state=rs,
                                  stratify=stratify)
    return train, val


def validation_mask(n, fraction, random_state, y, stratified):
    """sklearn's BaseSGD._make_validation_split: a boolean mask of the validation
    rows, by StratifiedShuffleSplit (classifiers) from `random_state` itself."""
    try:
        from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
    except ImportError:
        _, val = train_val_split(n, fraction, check_random_state(random_state))
    else:
        kind = StratifiedShuffleSplit if stratified else ShuffleSplit
        cv = kind(test_size=fraction, random_state=random_state)
        _, val = next(cv.split(np.zeros((n, 1)), y))
    mask = np.zeros(n, bool)
    mask[val] = True
    if mask.all() or not mask.any():
        raise ValueError(f"Splitting {n} samples into a train set and a validation set "
                         f"with validation_fraction={fraction!r} led to an empty set. "
                         f"Change validation_fraction, add samples, or disable "
                         f"early_stopping")
    return mask


def sgd_permutation(n, seed):
    """The permutation SequentialDataset.shuffle(seed) applies to its row order.

    scikit-learn's plain SGD reshuffles with the same seed at every epoch (it is
    passed by value), so each epoch applies this same permutation to the order the
    previous epoch left: order = order[perm]. Fisher-Yates on its xorshift
    our_rand_r, in 32-bit unsigned arithmetic."""
    perm = np.arange(n)
    s = int(seed) & 0xFFFFFFFF
    for i in range(n - 1):
        if s == 0:
            s = 1
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        j = i + (s % (_RAND_R_MAX + 1)) % (n - i)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def class_weights(class_weight, classes, y):
    """sklearn.utils.class_weight.compute_class_weight: one weight per class."""
    try:
        from sklearn.utils.class_weight import compute_class_weight
    except ImportError:
        pass
    else:
        return compute_class_weight(class_weight, classes=classes, y=y)
    if class_weight is None or (isinstance(class_weight, dict) and not class_weight):
        return np.ones(len(classes))
    if isinstance(class_weight, str) and class_weight == "balanced":
        counts = np.array([np.sum(y == c) for c in classes], np.float64)
        if (counts == 0).any():
            raise ValueError("classes should have valid labels that are in y")
        return len(y) / (len(classes) * counts)
    if isinstance(class_weight, dict):
        unknown = [k for k in class_weight if k not in set(classes.tolist())]
        if unknown:
            raise ValueError(f"The classes, {unknown}, are not in class, "
                             f"{classes.tolist()}")
        return np.array([float(class_weight.get(c, 1.0)) for c in classes.tolist()])
    raise ValueError(f"class_weight must be None, 'balanced' or a dict. Received: "
                     f"class_weight={class_weight!r}")
