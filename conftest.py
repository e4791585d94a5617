"""pytest runs the book in its fast profile unless told otherwise.

The notebooks read SVLIB_PROFILE.
"""

import os

os.environ.setdefault("SVLIB_PROFILE", "fast")
