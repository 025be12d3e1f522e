"""The platform terms calibrated on published serverless jobs, and the model scored on the others."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bench.analysis.pricebook import load_price_book
from bench.model.platforms import platform_limits
from bench.model.published import (
    CALIBRATION_JOBS,
    calibrate,
    direct_summary,
    read_published,
    validate_direct,
    validate_published,
)
from bench.model.simulator import schedule
from bench.model.workload import job_schedule, project_workload, service_times


@pytest.fixture(scope="module")
def published() -> tuple[pd.DataFrame, pd.DataFrame]:
    return read_published()


def test_every_published_job_is_traceable_and_complete(published):
    jobs, tasks = published
    assert set(jobs["platform"]) == {"ibm_cloud_functions", "aws_lambda"}
    for job in jobs.itertuples():
        assert len(job.commit) == 40 and job.commit in job.source and job.path in job.source
        assert (tasks["job_id"] == job.job_id).sum() == job.calls
    assert set(CALIBRATION_JOBS) < set(jobs["job_id"])


@pytest.mark.parametrize("platform", ["ibm_cloud_functions", "aws_lambda"])
def test_the_price_book_holds_what_the_calibration_jobs_give(published, platform):
    terms = calibrate(*published, platform)
    book = platform_limits(load_price_book(), platform)
    for key, value in terms.items():
        assert getattr(book, key) == pytest.approx(value, abs=1e-3), key


def test_validation_jobs_are_predicted_within_a_few_percent_and_the_terms_matter():
    table = validate_published(load_price_book(), draws=10)
    scored = table[table["role"] == "validation"]
    assert len(scored) == 8 and set(scored["platform"]) == {"ibm_cloud_functions", "aws_lambda"}
    error = scored["rel_error"].abs()
    assert error.median() < 0.08 and error.max() < 0.2
    bare = ((scored["without_job_terms_s"] - scored["published_s"]) / scored["published_s"]).abs()
    assert bare.median() > 2 * error.median()


def test_the_runtime_kind_picks_the_cold_start_lithops_default_by_default():
    book = load_price_book()
    ibm = platform_limits(book, "ibm_cloud_functions")
    assert (
        ibm.runtime == "container"
        and ibm.cold_start_s == book.platform_values("ibm_cloud_functions")["cold_start_s"]
    )
    native = platform_limits(book, "ibm_cloud_functions", runtime="native")
    assert native.cold_start_s < ibm.cold_start_s / 2
    assert "ibm_cloud_functions.cold_start_native_s" in native.estimates
    assert platform_limits(book, "aws_lambda").runtime == "native"
    with pytest.raises(ValueError, match="no cold start for a container runtime on aws_lambda"):
        platform_limits(book, "aws_lambda", runtime="container")


def test_an_openwhisk_share_falls_with_concurrency_from_a_core_to_its_weight_a_quota_does_not():
    book = load_price_book()
    small = platform_limits(book, "ibm_cloud_functions", 256)
    assert small.share_at(1) == 1.0 and small.share_at(2) == 0.5
    assert small.share_at(8) == small.share_at(1000) == small.cpu_share == 256 / 2048
    assert platform_limits(book, "ibm_cloud_functions", 2048).share_at(1) == 1.0
    lam = platform_limits(book, "aws_lambda", 256)
    assert lam.share_at(1) == lam.share_at(200) == lam.cpu_share


def test_a_lone_small_openwhisk_call_is_projected_at_a_whole_core():
    book = load_price_book()
    small = platform_limits(book, "ibm_cloud_functions", 256)
    alone, crowded = (
        project_workload(np.array([1.0]), small, workers=[w], images=w, chunk_size=1, draws=3)
        for w in (1, 100)
    )
    assert alone["cpu_share"].iloc[0] == 1.0 and crowded["cpu_share"].iloc[0] == 0.125


def test_direct_invocations_are_traceable_and_the_new_terms_bring_them_closer():
    jobs = pd.read_csv("results/published/direct_jobs.csv")
    for job in jobs.itertuples():
        assert len(job.commit) == 40 and job.commit in job.source and job.path in job.source
    table = validate_direct(load_price_book(), draws=5)
    assert len(table) == len(jobs) and set(table["platform"]) == {"ibm_cloud_functions", "aws_lambda"}
    lone = table.set_index("job_id").loc["ibm-work-1"]
    assert abs(lone["rel_error"]) < abs(lone["before_error"]) / 3
    summary = direct_summary(table)
    assert summary["median_abs_rel_error"] < summary["before_median_abs_rel_error"]


def test_the_client_thread_pool_paces_invocations():
    s = schedule(np.zeros(1000), 1000, client_limit=(100, 0.5))
    assert s.start_s.max() == pytest.approx(9 * 0.5)
    assert np.sort(s.start_s)[100] == pytest.approx(0.5)


def test_a_lithops_job_pays_setup_storage_and_polling_a_direct_one_does_not():
    cf = platform_limits(load_price_book(), "ibm_cloud_functions")
    platform = replace(cf, poll_interval_s=0)
    work = np.full(10, 1.0)
    rng = np.random.default_rng(0)
    lithops = job_schedule(work, 10, platform, rng, warm_containers=10)
    direct = job_schedule(work, 10, platform, rng, invocation="direct", warm_containers=10)
    assert direct.wall_s == pytest.approx(1.0 + platform.start_latency_s)
    fixed = platform.job_setup_s + platform.storage_in_s + platform.storage_out_s + platform.status_check_s
    assert lithops.wall_s == pytest.approx(direct.wall_s + fixed + platform.result_fetch_s)
    # a new container pays the cold start
    cold = job_schedule(work, 10, platform, rng, invocation="direct")
    assert cold.wall_s == pytest.approx(direct.wall_s + platform.cold_start_s)


def test_service_time_from_a_number_or_a_csv_and_projected_in_waves(tmp_path):
    assert service_times("2.5").tolist() == [2.5]
    path = tmp_path / "s.csv"
    pd.DataFrame({"seconds": [1.0, 3.0]}).to_csv(path, index=False)
    assert service_times(str(path)).tolist() == [1.0, 3.0]
    with pytest.raises(ValueError):
        service_times(str(tmp_path / "missing.csv"))
    platform = platform_limits(load_price_book(), "aws_lambda", 1769)
    table = project_workload(
        np.array([2.0]), platform, workers=[1000], images=3000, chunk_size=1, invocation="direct", draws=3
    )
    row = table.iloc[0]
    assert row["slots"] == 1000 and "waves" in row["notes"]
    assert row["predicted_wall_s"] >= 3 * 2.0  # three waves of 2 s calls
