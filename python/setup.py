"""Builds the wheel: the Python package plus libgss.so and the bundled plugins, from the Swift
package this directory sits in (its parent, the repository root).

`pip install ./python` runs `swift build -c release` there (an up-to-date build is a quick no-op)
and copies, into gss/_lib/:
    libGSS.so                      as libgss.so (the C API of include/gss.h)
    libgss-<id>.so                 the bundled plugins, which libgss finds beside itself
(not the libgssfixture-* test fixtures).  Nothing is compiled or downloaded at import time.

GSS_SWIFT_BIN_PATH=/path/to/.build/release skips the Swift build and takes the files from there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _swift_bin_path() -> Path:
    override = os.environ.get("GSS_SWIFT_BIN_PATH")
    if override:
        return Path(override)
    if not (ROOT / "Package.swift").is_file():
        sys.exit(f"gss: {ROOT} has no Package.swift; build the Python package from a gss checkout "
                 "(pip install ./python from the repository root).")
    swift = shutil.which("swift")
    if swift is None:
        sys.exit("gss: building the package needs the Swift toolchain (swift on PATH): "
                 "it builds libgss.so with `swift build -c release`.")
    print("gss: swift build -c release (in %s)" % ROOT, flush=True)
    subprocess.run([swift, "build", "-c", "release"], cwd=ROOT, check=True)
    out = subprocess.run([swift, "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                         check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


class build_py(_build_py):
    """build_py, then the native library and the bundled plugins into gss/_lib."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install loads the repository's .build/release/libGSS.so
        bin_path = _swift_bin_path()
        library = bin_path / "libGSS.so"
        if not library.is_file():
            sys.exit(f"gss: {library} is missing after the Swift build "
                     "(swift build -c release must produce the GSS library product).")
        target = Path(self.build_lib) / "gss" / "_lib"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copy2(library, target / "libgss.so")
        plugins = sorted(p for p in bin_path.glob("libgss-*.so"))
        if not plugins:
            sys.exit(f"gss: no bundled plugins (libgss-*.so) in {bin_path}.")
        for plugin in plugins:
            shutil.copy2(plugin, target / plugin.name)
        print("gss: packaged %s" % ", ".join(["libgss.so"] + [p.name for p in plugins]), flush=True)


class bdist_wheel(_bdist_wheel):
    """A platform wheel (it holds shared objects) for any Python 3: py3-none-<platform>."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple[str, str, str]:
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(cmdclass={"build_py": build_py, "bdist_wheel": bdist_wheel})
