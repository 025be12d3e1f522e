"""The platform terms calibrated on published serverless jobs, and the model scored on the others."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bench.analysis.pricebook import load_price_book
from bench.model.platforms import platform_limits
from bench.model.published import CALIBRATION_JOBS, calibrate, read_published, validate_published
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
