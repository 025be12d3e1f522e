"""What the tests and the embedded services start listens on loopback only, never on every interface."""

from __future__ import annotations

import ipaddress

import psutil


def listening_off_loopback() -> list[str]:
    """Listening sockets of this process and every process it started that are not on loopback."""
    me = psutil.Process()
    wide = []
    for proc in [me, *me.children(recursive=True)]:
        try:
            sockets = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for sock in sockets:
            if sock.status == psutil.CONN_LISTEN and not ipaddress.ip_address(sock.laddr.ip).is_loopback:
                wide.append(f"{proc.name()} (pid {proc.pid}) on {sock.laddr.ip}:{sock.laddr.port}")
    return wide


def listening_count() -> int:
    me = psutil.Process()
    count = 0
    for proc in [me, *me.children(recursive=True)]:
        try:
            count += sum(s.status == psutil.CONN_LISTEN for s in proc.net_connections(kind="inet"))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return count


def test_test_cluster_and_embedded_s3_listen_on_loopback(dask_scheduler, s3_endpoint) -> None:
    """`dask scheduler`, `dask worker` (nanny and worker, dashboards included) and the moto endpoint."""
    assert listening_count() >= 4, "the cluster and the endpoint should be listening"
    assert listening_off_loopback() == []


def test_local_cluster_listens_on_loopback() -> None:
    from bench.executors.dask import DaskExecutor

    executor = DaskExecutor(1)
    executor.start()
    try:
        assert listening_count() >= 3  # scheduler, its dashboard, the worker
        assert listening_off_loopback() == []
    finally:
        executor.close()
