"""DataParallel, DeviceMesh and the global distribution setting (Keras 3's names)."""
import contextlib
import math

import numpy as np

from cydl.distribution import _agree, _init, _state

DEFAULT_BATCH_DIM_NAME = "batch"


def list_devices(device_type=None):
    """The devices of the run, one per process: ["cpu:0", "cpu:1", ...].

    Args:
        device_type: None or "cpu" (cydl runs on CPUs; "gpu" and "tpu" give []).
    """
    if device_type is not None and (not isinstance(device_type, str) or
                                    device_type.lower() not in ("cpu", "gpu", "tpu")):
        raise ValueError(f"device_type must be 'cpu', 'gpu', 'tpu' or None. Received: "
                         f"device_type={device_type!r}")
    if device_type is not None and device_type.lower() != "cpu":
        return []
    return [f"cpu:{i}" for i in range(_init.world().size)]


def get_device_count(device_type=None):
    """len(list_devices(device_type))."""
    return len(list_devices(device_type))


class DeviceMesh:
    """The devices of a distribution laid out on named axes (Keras 3's DeviceMesh).
    cydl's DataParallel uses one axis: one device per process.

    Args:
        shape: the mesh shape, e.g. (4,).
        axis_names: one name per axis, e.g. ["batch"].
        devices: the devices (default: list_devices()).
    """

    def __init__(self, shape, axis_names, devices=None):
        if not shape or not axis_names:
            raise ValueError(f"Shape and axis_names cannot be empty. Received: "
                             f"shape={shape}, axis_names={axis_names}")
        if len(shape) != len(axis_names):
            raise ValueError(f"Shape and axis_names should have same size. Received: "
                             f"shape={shape}, axis_names={axis_names}")
        devices = np.array(list_devices() if devices is None else devices)
        if math.prod(shape) != devices.size:
            raise ValueError(f"Shape does not match the number of devices. Received: "
                             f"shape={shape}; devices.shape={devices.shape}")
        self._shape, self._axis_names = tuple(shape), list(axis_names)
        self._devices = devices.reshape(shape)

    shape = property(lambda self: self._shape)
    axis_names = property(lambda self: self._axis_names)
    devices = property(lambda self: self._devices)

    def __repr__(self):
        return f"<DeviceMesh shape={self.shape}, axis_names={self.axis_names}>"


class DataParallel:
    """Data-parallel training over MPI processes: each global batch is cut into
    contiguous slices, one per process; the gradients are summed (one Allreduce of
    the flat gradient buffer per step); every process applies the same update.
    N processes give the run of one: the same weights (to the rounding of the
    sums), identical on every process.

    Launch the script with `mpiexec -n 4 python train.py` (a host file spreads the
    processes over machines). Without mpiexec it runs as one process, unchanged.

    Args:
        device_mesh: a 1-D DeviceMesh of list_devices() (or None).
        devices: the devices, e.g. list_devices() (or None: all of them). Every
            process of the run takes part: a subset is refused.
        auto_shard_dataset: True (default): every process passes the same arrays
            and takes its slice of each batch. False: each process passes its own
            shard; each global batch then joins every process's next
            batch_size / N rows, in rank order.

    Example:

    >>> cydl.distribution.set_distribution(cydl.distribution.DataParallel())
    >>> model.fit(x, y, batch_size=256, epochs=10)     # 256 rows per step in all
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        _init.initialize()
        everything = list_devices()
        if device_mesh is not None:
            if not isinstance(device_mesh, DeviceMesh):
                raise ValueError(f"Expect `mesh` to be an instance of `DeviceMesh`. "
                                 f"Received: mesh={device_mesh} (of type {type(device_mesh)})")
            if len(device_mesh.shape) != 1:
                raise ValueError(f"cydl's DataParallel takes a 1-D mesh (one device per "
                                 f"process). Received: shape={device_mesh.shape}")
            mesh = device_mesh
        else:
            mesh = DeviceMesh((len(everything),), [DEFAULT_BATCH_DIM_NAME],
                              everything if devices is None else devices)
        if sorted(str(d) for d in mesh.devices.reshape(-1)) != sorted(everything):
            raise ValueError(f"DataParallel runs on every process of the run: devices "
                             f"must be {everything}. Received: "
                             f"{[str(d) for d in mesh.devices.reshape(-1)]}")
        if not isinstance(auto_shard_dataset, bool):
            raise TypeError(f"auto_shard_dataset must be a bool. Received: "
                            f"auto_shard_dataset={auto_shard_dataset!r}")
        self._device_mesh = mesh
        self._batch_dim_name = mesh.axis_names[0]
        self._auto_shard_dataset = auto_shard_dataset
        self._world = _init.world()

    device_mesh = property(lambda self: self._device_mesh)
    batch_dim_name = property(lambda self: self._batch_dim_name)
    auto_shard_dataset = property(lambda self: self._auto_shard_dataset)
    num_processes = property(lambda self: self._world.size)
    process_id = property(lambda self: self._world.rank)
    num_model_replicas = property(lambda self: self._world.size)
    data_shard_id = property(lambda self: self._world.rank)

    @contextlib.contextmanager
    def scope(self):
        """Context manager: this distribution is in effect inside the block."""
        outer = _state._DISTRIBUTION
        set_distribution(self)
        try:
            yield
        finally:
            _state._DISTRIBUTION = outer

    def __repr__(self):
        return (f"<DataParallel processes={self.num_processes} rank={self.process_id} "
                f"auto_shard_dataset={self.auto_shard_dataset}>")


def set_distribution(value):
    """Make `value` (a DataParallel, or None) the distribution fit, evaluate and
    predict use."""
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(f"set_distribution takes a DataParallel or None. Received: "
                        f"{value!r}")
    if value is not None:
        # from here on a process that ends its script meets the others' next call
        # check, so that a call made by some processes only fails with the reason
        _agree.hook_exit(value._world)
    _state._DISTRIBUTION = value


def distribution():
    """The distribution set by set_distribution (or a scope), else None."""
    return _state._DISTRIBUTION
