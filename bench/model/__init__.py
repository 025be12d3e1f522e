"""The scaling model: service times in, a schedule simulated, a prediction with its interval out.

:mod:`~bench.model.calibration` fits a run's ``tasks`` table (per-image service times, overheads,
cold starts, the cores the workers really had); :mod:`~bench.model.platforms` reads a serverless
platform's limits from the price book, and :mod:`~bench.model.workload` takes a job given only by its
service time (a Lithops map or direct calls). :mod:`~bench.model.simulator` places the calls on their
slots; :mod:`~bench.model.projection` draws a case many times over (bootstrap of the fit, a fresh
schedule each) and gives the median with its 5-95% interval, priced by the price book.
:mod:`~bench.model.validation` scores it against the run's own cases, :mod:`~bench.model.published`
against published serverless jobs, and :mod:`~bench.model.scenarios` replays named setups
(pattern-2019). It reads saved tables and never runs work.
"""
