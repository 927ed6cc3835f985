"""Measuring quality: evaluator features, Frechet distance, KID, class coverage
and test-set likelihoods (docs/METRICS.md)."""
from engine.metrics.distances import (class_statistics, frechet_distance, frechet_distance_of,
                                      kernel_distance)
from engine.metrics.evaluate import (EvalConfig, EvalFinished, EvalProgress, evaluate_run,
                                     evaluations, format_result, run_evaluation)

__all__ = ["EvalConfig", "EvalFinished", "EvalProgress", "class_statistics", "evaluate_run",
           "evaluations", "format_result", "frechet_distance", "frechet_distance_of",
           "kernel_distance", "run_evaluation"]
