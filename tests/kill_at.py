"""Run the `gap-replay` command line and SIGKILL it at a chosen point: the Nth call of a named function.

    python kill_at.py MODULE:QUALNAME[#N][@after] -- ARGS...

`#N` picks the Nth call (default 1); `@after` kills once that call has returned rather than as it starts. The
process dies as from `kill -9`: no cleanup, no `finally`, no atexit, exactly what an operator's kill or an OOM
killer does. When the point is never reached, the command runs to its end and exits 3, so a test can tell.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys

NOT_REACHED = 3


def arm(spec: str) -> None:
    """Wrap the named function so that its Nth call kills this process."""
    target, _, when = spec.partition("@")
    target, _, count = target.partition("#")
    module_name, _, qualname = target.partition(":")
    owner = importlib.import_module(module_name)
    *path, name = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    wanted = int(count or 1)
    calls = 0

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == wanted and when != "after":
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if calls == wanted and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapper)


def main(argv: list[str]) -> int:
    spec, separator, *args = argv
    if separator != "--":
        raise SystemExit("usage: kill_at.py MODULE:QUALNAME[#N][@after] -- ARGS...")
    arm(spec)
    from gap_replay.cli import main as cli

    code = cli(args)
    return NOT_REACHED if code == 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
