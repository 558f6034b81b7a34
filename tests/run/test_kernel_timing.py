import pytest

from spring_lib.run import kernel_timing


@pytest.mark.parametrize("real_kernel", [True, False])
def test_a_kernel_start_is_timed_with_its_figures_and_tables(real_kernel, monkeypatch):
    if not real_kernel:   # no Jupyter kernel of the study's installed: a fresh Python
        from jupyter_client.kernelspec import NoSuchKernel

        from spring_lib.run import kernel

        def missing(*a, **k):
            raise NoSuchKernel("spring-steel")
        monkeypatch.setattr(kernel, "ipc_kernel_manager", lambda: missing)
    parts = kernel_timing.kernel_startup(torch=False, tile_px=64)
    assert set(parts) == {"kernel", "first figure", "figure", "table"}
    assert all(v > 0 for v in parts.values())
    assert parts["kernel"] > parts["table"]


def test_a_failing_start_says_so(monkeypatch):
    monkeypatch.setattr(kernel_timing, "_STARTUP", "raise SystemExit(3)")
    from jupyter_client.kernelspec import NoSuchKernel

    from spring_lib.run import kernel

    def missing(*a, **k):
        raise NoSuchKernel("spring-steel")
    monkeypatch.setattr(kernel, "ipc_kernel_manager", lambda: missing)
    with pytest.raises(RuntimeError, match="kernel's start failed"):
        kernel_timing.kernel_startup(torch=False, tile_px=64)
