"""Builds the compiled engine (simcore/_kernel.pyx). Everything else is in pyproject.toml.

The extension is optional: without a C compiler (or Cython) the install still succeeds, with a
warning, and simcore runs every scenario in its pure-Python engine (simcore.kernel.AVAILABLE is
then False; the results are the same, only slower)."""

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError:          # only without build isolation: pyproject.toml's build requires have it
    extensions = []
else:
    # no fused multiply-add: the limits' float sums must round as the Python engine's do
    extensions = cythonize([Extension("simcore._kernel", ["simcore/_kernel.pyx"],
                                      extra_compile_args=["-ffp-contract=off"])],
                           compiler_directives={"language_level": 3})
    for ext in extensions:
        ext.optional = True   # cythonize does not carry Extension(optional=...) over

setup(ext_modules=extensions)
