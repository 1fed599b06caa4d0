"""Builds the compiled engine (simcore/_kernel.pyx). Everything else is in pyproject.toml.

The extension is optional: without a C compiler the install still succeeds and simcore runs every
scenario in its pure-Python engine (simcore.kernel.AVAILABLE is then False)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize([Extension("simcore._kernel", ["simcore/_kernel.pyx"], optional=True)],
                            compiler_directives={"language_level": 3}))
