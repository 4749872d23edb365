"""Hypothesis profiles: `ci` (active when CI is set) extends hypothesis's built-in ci profile,
`dev` is the default for local runs, `thorough` is for a long local run:
HYPOTHESIS_PROFILE=thorough make test."""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", parent=settings.get_profile("ci"), deadline=None,
                          max_examples=25)
settings.register_profile("dev", deadline=None, max_examples=40,
                          suppress_health_check=(HealthCheck.too_slow,))
settings.register_profile("thorough", deadline=None, max_examples=500,
                          suppress_health_check=(HealthCheck.too_slow,))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI")
                                                                   else "dev"))
