"""How the command-line tools report an expected failure: one line on stderr and exit status 1."""
import os
import sys
from typing import Callable


def run_reporting_errors(prog: str, action: Callable[[], None], torch_errors: bool = True) -> int:
    """Runs `action`. A ValueError or OSError (bad input, missing file) prints `prog: error: ...`;
    with `torch_errors`, so does torch's RuntimeError (first line only, e.g. a dtype the device
    cannot compute in). Returns the exit status. LOCALLEAP_DEBUG=1 re-raises for the traceback."""
    try:
        action()
    except (ValueError, OSError) as e:
        if os.environ.get("LOCALLEAP_DEBUG"):
            raise
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:
        if not torch_errors or os.environ.get("LOCALLEAP_DEBUG"):
            raise
        print(f"{prog}: error: torch: {str(e).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    return 0
