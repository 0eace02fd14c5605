"""Worker process for answer checks requested from threads other than the main one.

Protocol (one line each way): ``[pred, ref, timeout]`` as JSON on stdin,
``true`` or ``false`` on stdout. Started by :class:`sftlab.verify._guard._Worker`.
"""

from __future__ import annotations

import json
import sys

from ._guard import math_equal_with_alarm


def main() -> None:
    protocol = sys.stdout
    sys.stdout = sys.stderr  # stray prints must not corrupt the protocol
    protocol.write("ready\n")
    protocol.flush()
    for line in sys.stdin:
        try:
            pred, ref, timeout = json.loads(line)
            ok = math_equal_with_alarm(str(pred), str(ref), float(timeout))
        except Exception:
            ok = False
        protocol.write("true\n" if ok else "false\n")
        protocol.flush()


if __name__ == "__main__":
    main()
