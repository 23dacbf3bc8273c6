"""Hypothesis settings profiles for the conformance tests.

Two profiles, chosen with the environment variable ``HYPOTHESIS_PROFILE``:

* ``default`` (unset, or ``HYPOTHESIS_PROFILE=default``): fast — the whole folder runs in well
  under 40 s on two cores.  Derandomized, so a CI run is reproducible.
* ``nightly`` (``HYPOTHESIS_PROFILE=nightly``): many more examples and longer step sequences,
  random seeds.  ``HYPOTHESIS_PROFILE=nightly pytest tests/conformance``.

They are registered with Hypothesis as ``conformance-default`` and ``conformance-nightly`` and
applied to the tests of this folder only (``conformance_support.profile()``), so loading them
never changes the settings of other test folders in the same pytest session.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "conformance-default",
    max_examples=150,
    stateful_step_count=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "conformance-nightly",
    max_examples=2000,
    stateful_step_count=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
