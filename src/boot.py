# Entry point run by bin/detect and bin/build. Kept to syntax every python3 (and python2)
# parses, so an old interpreter gets our error instead of a SyntaxError.
import gc

# No cyclic garbage collection in these short-lived processes: the imports (the HTTP stack
# above all) make some 100,000 objects that the collector would walk again and again, a
# tenth of the import time; what a build leaves for it is about a thousand objects per
# asset (requests' and exceptions' cycles), never per byte downloaded (measured: 1,130
# for a 1 GiB asset, peak RSS unchanged).
gc.disable()

import os
import sys


def _newer_python():
    """The first python3.X (X >= 10) on PATH that is not an interpreter tried already (the
    tried ones travel in an internal variable across the execs, not a user knob)."""
    tried = os.environ.get("PROBE_ASSETS_TRIED_PYTHONS", "").split(os.pathsep)
    tried.append(os.path.realpath(sys.executable))
    os.environ["PROBE_ASSETS_TRIED_PYTHONS"] = os.pathsep.join(tried)
    for name in ("python3.13", "python3.12", "python3.11", "python3.10"):
        for d in os.environ.get("PATH", "").split(os.pathsep):
            path = os.path.join(d or ".", name)
            runs = os.path.isfile(path) and os.access(path, os.X_OK)
            if runs and os.path.realpath(path) not in tried:
                return path
    return None


if sys.version_info < (3, 10):
    if sys.argv[1:2] == ["detect"]:
        # The shim tries its next python3 name; with none newer, bin/detect decides in sh
        # (and requires cpython for the build).
        sys.exit(3)
    if sys.argv[1:2] == ["build"]:
        # bin/build exec'd us: exec the next newer python3.X on PATH in this same process
        # (a kill meant for the build reaches it), else say what to add (below).
        _next = _newer_python()
        if _next is not None:
            # Concatenation, not [*...]: python2 parses this file too.
            _argv = [_next, "-E", "-s", "-S", os.path.abspath(__file__)] + sys.argv[1:]  # noqa: RUF005
            os.execv(_next, _argv)  # noqa: S606 (no shell: the same interpreter arguments)
    sys.stderr.write(
        "error: probe-assets/github-assets needs python3 >= 3.10 on the build image, found %s"
        " (%s); add a CPython buildpack (e.g. paketo-buildpacks/cpython) before this one in"
        " the order, or put a newer python3 first on PATH\n"
        % (sys.version.split()[0], sys.executable)
    )
    sys.exit(1)

# The shims run python3 with -S (no site: site-packages and .pth files cost more
# start-up time than detect itself) and -E -s, so only the stdlib, our package and
# its vendored dependencies are importable: the build image's own packages never
# change what runs.
_src = os.path.dirname(os.path.abspath(__file__))
_vendor = os.path.join(os.path.dirname(_src), "vendor")
if not os.path.isdir(_vendor):
    sys.stderr.write(
        "error: probe-assets/github-assets: vendored dependencies missing at %s;"
        " run `make vendor` (or use the packaged buildpack from `make package`)\n" % _vendor
    )
    sys.exit(1)
sys.path[:0] = [_src, _vendor]

from github_assets.__main__ import main

_code = main(sys.argv[1:])
if sys.argv[1:2] == ["build"]:
    # The build is done and every file it wrote is closed: skip the interpreter's
    # module teardown (several ms once requests and friends are imported).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_code)
sys.exit(_code)
