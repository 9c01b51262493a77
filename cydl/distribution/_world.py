"""The processes of a run: who launched us, MPI, and each process's thread share.

mpi4py is imported only under an MPI launcher (mpiexec/mpirun/srun set PMI_RANK,
OMPI_COMM_WORLD_RANK, PMIX_RANK or MV2_COMM_WORLD_RANK), so a plain
`python train.py` never needs it. Every collective here takes NumPy buffers:
nothing is pickled between processes.
"""
import os

import numpy as np

# (rank variable, size variable) of the launchers: MPICH/Intel MPI (Hydra, also
# srun --mpi=pmi2), Open MPI, PMIx (srun --mpi=pmix), MVAPICH
_LAUNCHERS = (("PMI_RANK", "PMI_SIZE"), ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
              ("PMIX_RANK", None), ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"))


def launched():
    """(rank, size or None) as the MPI launcher's environment says, else None."""
    for rank_var, size_var in _LAUNCHERS:
        rank = os.environ.get(rank_var)
        if rank is not None and rank.strip().isdigit():
            size = os.environ.get(size_var or "", "")
            return int(rank), (int(size) if size.strip().isdigit() else None)
    return None


def mpi():
    """mpi4py's MPI module (ImportError naming the extra when it is missing)."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError('cydl.distribution needs mpi4py under mpiexec: pip install '
                          '"cydl[mpi]" (mpi4py and the MPICH library)') from None
    return MPI


class World:
    """This run's processes: rank and size, those on this machine (local_rank,
    local_size, from MPI's shared-memory split), and the collectives the engine
    uses. Without MPI it is one process and every collective is the identity."""

    def __init__(self, comm=None):
        self.comm = comm
        if comm is None:
            self.rank, self.size, self.local_rank, self.local_size = 0, 1, 0, 1
            self._local = None
            return
        MPI = mpi()
        self._MPI = MPI
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self._local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = self._local.Get_rank(), self._local.Get_size()

    # ------------------------------------------------------------ collectives
    def allreduce(self, buf):
        """buf (a contiguous NumPy array) = its sum over all processes, in place."""
        if self.comm is not None:
            self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)

    def allreduce_max(self, value):
        """The largest of every process's `value` (a number)."""
        buf = np.array([value], np.float64)
        if self.comm is not None:
            self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.MAX)
        return buf[0]

    def allgather(self, value):
        """Every process's `value` (a number), in rank order, as float64."""
        out = np.empty(self.size, np.float64)
        if self.comm is None:
            out[0] = value
        else:
            self.comm.Allgather(np.array([value], np.float64), out)
        return out

    def allgatherv(self, local, counts):
        """The rows of every process, in rank order: `local` is this process's
        (rows, ...) C-ordered array and counts[r] the rows of process r."""
        local = np.ascontiguousarray(local)
        tail = local.shape[1:]
        out = np.empty((int(sum(counts)),) + tail, local.dtype)
        if self.comm is None:
            out[...] = local
            return out
        per_row = int(np.prod(tail, dtype=np.int64))
        sizes = [int(c) * per_row for c in counts]
        displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
        self.comm.Allgatherv(local.reshape(-1), [out.reshape(-1), (sizes, displs)])
        return out

    def bcast(self, buf, root=0):
        """buf (a contiguous NumPy array) = process `root`'s, in place."""
        if self.comm is not None:
            self.comm.Bcast(buf, root=root)

    def bcast_bytes(self, data, root=0):
        """Process `root`'s bytes (e.g. JSON), on every process."""
        if self.comm is None:
            return data
        size = np.array([len(data) if self.rank == root else 0], np.int64)
        self.comm.Bcast(size, root=root)
        buf = np.frombuffer(data, np.uint8).copy() if self.rank == root else \
            np.empty(int(size[0]), np.uint8)
        self.comm.Bcast(buf, root=root)
        return buf.tobytes()

    def barrier(self):
        if self.comm is not None:
            self.comm.Barrier()

    def abort(self, code=1):
        if self.comm is not None:
            self.comm.Abort(code)
        raise SystemExit(code)

    # ------------------------------------------------------------ threads
    def thread_share(self, cpus):
        """This process's share of `cpus` (the CPUs it may run on): divided among the
        processes on this machine that may run on the same CPUs. A launcher that
        binds each process to its own cores (mpiexec -bind-to core) already gave
        each its share, and then nothing is divided."""
        if self._local is None or self.local_size == 1:
            return cpus
        try:
            mine = os.sched_getaffinity(0)
        except (AttributeError, OSError):
            return max(1, cpus // self.local_size)
        masks = np.zeros((self.local_size, os.cpu_count() or max(mine) + 1), np.uint8)
        masks[self.local_rank, sorted(c for c in mine if c < masks.shape[1])] = 1
        self._local.Allreduce(self._MPI.IN_PLACE, masks, op=self._MPI.SUM)
        sharing = int(np.count_nonzero((masks[:, list(mine)] > 0).any(axis=1)))
        return max(1, cpus // max(sharing, 1))
