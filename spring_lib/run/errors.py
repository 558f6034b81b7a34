"""The two ways a run ends early, shared by the runner, the lock and the kernel helpers."""


class RunError(RuntimeError):
    """A run that could not start or did not finish; the message says which and why."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT, turned into an exception so the run is recorded and set aside.
    A KeyboardInterrupt, because asyncio (papermill's executor) lets only that and SystemExit
    out of its tasks: any other exception raised there is swallowed and the run hangs."""
