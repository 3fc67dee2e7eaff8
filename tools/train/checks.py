"""The PASS/FAIL runner that tools/train's test scripts share (test_onestep, test_quant,
test_resume, test_causal): a check prints PASS with its time or FAIL with the traceback and the
script goes on; summary() prints the closing "N passed, N failed" line that
test/native/pythonTools.test.ts reads and returns the exit status."""
import time
import traceback

RESULTS = []


def run_check(fn, *a):
    t = time.time()
    try:
        fn(*a)
        RESULTS.append(True)
        print(f"PASS {fn.__name__} ({time.time() - t:.1f}s)", flush=True)
    except Exception:  # noqa: BLE001
        RESULTS.append(False)
        print(f"FAIL {fn.__name__}\n{traceback.format_exc()}", flush=True)


def check(fn):
    """Decorator: calling the function runs it as a check."""
    def run(*a):
        run_check(fn, *a)
    run.__name__ = fn.__name__
    return run


def summary(t0=None):
    passed = sum(RESULTS)
    took = f" ({time.time() - t0:.1f}s)" if t0 is not None else ""
    print(f"{passed} passed, {len(RESULTS) - passed} failed{took}")
    return 0 if passed == len(RESULTS) else 1
