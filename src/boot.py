# Entry point run by bin/detect and bin/build. Kept to syntax every python3 (and python2)
# parses, so an old interpreter gets our error instead of a SyntaxError.
import os
import sys

if sys.version_info < (3, 10):
    sys.stderr.write(
        "error: probe-assets/github-assets needs python3 >= 3.10 on the build image, found %s"
        " (%s); put a newer python3 first on PATH (e.g. add a CPython buildpack before this one)\n"
        % (sys.version.split()[0], sys.executable)
    )
    sys.exit(1)

_src = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_src, os.path.join(os.path.dirname(_src), "vendor")]

from github_assets.__main__ import main

sys.exit(main(sys.argv[1:]))
