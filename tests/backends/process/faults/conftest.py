"""The fault suite's leak checks, for the faults only worker processes have."""

from tests.faults.conftest import no_leaked_descriptors_or_shared_memory, warmed_up

__all__ = ["no_leaked_descriptors_or_shared_memory", "warmed_up"]
