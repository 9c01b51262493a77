"""Build the Cython kernels, with OpenMP when the compiler supports it.

Environment switches:
  CYDL_NO_OPENMP=1   build without OpenMP (every kernel runs on one thread).
  CYDL_DEBUG=1       bounds, wraparound and initialization checks on, -O0 -g.
  CYDL_NATIVE=1      add -march=native (faster here, not portable to other CPUs).
"""
import os
import sys
import tempfile
import textwrap

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = ["_blas", "_parallel", "_activations", "_dense", "_losses", "_optim",
           "_data", "_phases", "_parts", "_backward", "_adapt", "_plan_spec", "_fused",
           "_norm", "_dropout", "_prelu", "_nodes", "_linear_sgd", "_predict"]
# Kernels whose elementwise loops have runtime-dispatched SIMD variants.
SIMD_DISPATCHED = {"cydl._kernels._optim", "cydl._kernels._activations",
                   "cydl._kernels._losses"}


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _compiles_with_openmp(compiler):
    """Compile and link a tiny OpenMP program; return the flags that worked."""
    src = textwrap.dedent("""
        #include <omp.h>
        int main(void) {
            int n = 0;
            #pragma omp parallel reduction(+:n)
            n += 1;
            return omp_get_max_threads() > 0 && n > 0 ? 0 : 1;
        }
    """)
    if sys.platform == "darwin":
        candidates = [["-Xpreprocessor", "-fopenmp"], ["-fopenmp"]]
        link_candidates = [["-lomp"], ["-fopenmp"]]
    elif sys.platform == "win32":
        candidates, link_candidates = [["/openmp"]], [[]]
    else:
        candidates, link_candidates = [["-fopenmp"]], [["-fopenmp"]]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "omp_test.c")
        with open(path, "w") as f:
            f.write(src)
        for cflags, lflags in zip(candidates, link_candidates):
            try:
                objs = compiler.compile([path], output_dir=tmp, extra_postargs=cflags)
                compiler.link_executable(objs, "omp_test", output_dir=tmp,
                                         extra_postargs=lflags)
                return cflags, lflags
            except Exception:  # noqa: BLE001 - any failure means "no OpenMP"
                continue
    return None


class BuildExt(build_ext):
    def build_extensions(self):
        cflags, lflags = [], []
        openmp = None
        if _flag("CYDL_NO_OPENMP"):
            print("cydl: OpenMP disabled by CYDL_NO_OPENMP", file=sys.stderr)
        else:
            openmp = _compiles_with_openmp(self.compiler)
            if openmp is None:
                print("cydl: WARNING: the compiler does not support OpenMP; "
                      "building single-threaded kernels", file=sys.stderr)
        if openmp is not None:
            cflags += openmp[0]
            lflags += openmp[1]
        if self.compiler.compiler_type != "msvc":
            if _flag("CYDL_DEBUG"):
                cflags += ["-O0", "-g"]
            else:
                cflags += ["-O3"]
            if _flag("CYDL_NATIVE"):
                cflags += ["-march=native"]
            # errno is never read, so math calls may be inlined and vectorized.
            cflags += ["-fno-math-errno", "-Wno-unreachable-code", "-Wno-sign-compare"]
            if sys.platform.startswith("linux"):
                # the prediction team's worker threads (cydl/_kernels/_team.h)
                cflags += ["-pthread"]
                lflags += ["-pthread"]
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args or []) + cflags
            if ext.name in SIMD_DISPATCHED and self.compiler.compiler_type != "msvc":
                # their loops run in AVX2 / AVX-512 variants picked at import; an FMA
                # (one rounding for a*b+c) in some variants only would make the
                # results depend on the CPU (cydl/_kernels/_vec_dispatch.h)
                ext.extra_compile_args.append("-ffp-contract=off")
            ext.extra_link_args = list(ext.extra_link_args or []) + lflags
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize

    debug = _flag("CYDL_DEBUG")
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": not debug,
        # nonecheck would need the GIL for attribute access in nogil kernels
        "nonecheck": False,
        "embedsignature": True,
    }
    exts = [
        Extension(f"cydl._kernels.{name}", [f"cydl/_kernels/{name}.pyx"],
                  include_dirs=["cydl/_kernels"])
        for name in KERNELS
    ]
    return cythonize(exts, compiler_directives=directives,
                     compile_time_env={"CYDL_DEBUG": debug},
                     nthreads=int(os.environ.get("CYDL_BUILD_JOBS", "0") or 0))


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
