"""Data-parallel training over MPI processes, with Keras 3's `keras.distribution` names.

    # train.py                      run: mpiexec -n 4 python train.py
    import cydl
    cydl.distribution.set_distribution(cydl.distribution.DataParallel())
    model.fit(x, y, batch_size=256, epochs=10)

Every process runs the same script on the same arrays. Each global batch is cut
into contiguous slices, one per process; the gradients are summed with one
Allreduce of the flat gradient buffer per step, so N processes give the run of one
process (the same weights, to the rounding of the sums), identical on every
process. BatchNormalization uses the global batch's statistics, dropout masks
follow the global row, the shuffle is the same everywhere; evaluate, predict and
validation are sharded and combined; files and progress bars come from process 0.
Without mpiexec (or with one process) the script runs unchanged, and mpi4py is
not imported. Needs `pip install "cydl[mpi]"` (mpi4py and the MPICH library).

Every process must make the same fit, evaluate, predict, train_on_batch and
save calls, in the same order, with the same arguments (and, unless
auto_shard_dataset=False, the same arrays). Each call opens with a check of that:
all processes raise the same error naming the values that differ; a process that
ends its script while another waits in a call makes that call fail. A call some
processes never make otherwise waits: a warning comes after 60 s, and with
CYDL_DIST_TIMEOUT=seconds set the waiting process stops with a TimeoutError.
`model.save` returns on every process once process 0 has written the file.
"""
from cydl.distribution._data_parallel import (DataParallel, DeviceMesh, distribution,
                                              get_device_count, list_devices,
                                              set_distribution)
from cydl.distribution._init import initialize

__all__ = ["DataParallel", "DeviceMesh", "distribution", "get_device_count", "initialize",
           "list_devices", "set_distribution"]
